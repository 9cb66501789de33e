"""Operators a rule is made of: an index (group-by) over a text column, joins through it, shares,
date windows. Over a dictionary-encoded column they work on codes, so no text is decoded until a
clue needs it.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .columns import TextColumn

EMPTY: List[int] = []


class Index:
    """The rows of each distinct non-null value of a text column, in row order; groups iterate in
    order of first appearance (as the Rust SDK's `Index`)."""

    def __init__(self, column: TextColumn, groups: Dict[object, List[int]]):
        self._column = column
        self._groups = groups
        self._by_text: Optional[Dict[str, List[int]]] = None

    @staticmethod
    def build(column: TextColumn) -> "Index":
        groups: Dict[object, List[int]] = {}
        valid = column.validity
        if column.codes is not None:
            keys = column.codes
        else:
            keys = [column.strings.value(i) for i in range(len(column))]
        get = groups.get
        # Two loops rather than one test per row: most key columns have no nulls.
        if valid is None:
            for i, key in enumerate(keys):
                rows = get(key)
                if rows is None:
                    groups[key] = [i]
                else:
                    rows.append(i)
        else:
            for i, key in enumerate(keys):
                if valid(i):
                    rows = get(key)
                    if rows is None:
                        groups[key] = [i]
                    else:
                        rows.append(i)
        return Index(column, groups)

    def __len__(self) -> int:
        return len(self._groups)

    def _text(self, key) -> str:
        return self._column.dictionary.value(key) if self._column.codes is not None else key

    def groups(self) -> Iterator[Tuple[str, List[int]]]:
        """(value, rows) for each distinct value, in order of first appearance."""
        for key, rows in self._groups.items():
            yield self._text(key), rows

    def get(self, value: str) -> List[int]:
        """The rows holding `value` (text)."""
        if self._column.codes is None:
            return self._groups.get(value, EMPTY)
        if self._by_text is None:
            self._by_text = {self._text(k): rows for k, rows in self._groups.items()}
        return self._by_text.get(value, EMPTY)

    def rows_of(self, column: TextColumn, i: int) -> List[int]:
        """The rows holding the value that row `i` of `column` holds: by code when `column` shares
        this index's dictionary (no text decoded), by text otherwise; [] where it is null."""
        if self._column.codes is not None and column.codes is not None and (
            column.dictionary_id == self._column.dictionary_id
        ):
            code = column.code(i)
            return EMPTY if code is None else self._groups.get(code, EMPTY)
        value = column.get(i)
        return EMPTY if value is None else self.get(value)


def share(items: Iterable, test: Callable[[object], Optional[bool]]) -> float:
    """Share of `items` for which `test` says True, among those where it says anything (None:
    unknown, e.g. a null); 0 when nothing is known."""
    known = hits = 0
    for item in items:
        hit = test(item)
        if hit is not None:
            known += 1
            hits += 1 if hit else 0
    return 0.0 if known == 0 else hits / known


def days_between(start: int, end: int) -> int:
    """Days from `start` to `end` (dates are days since 1970-01-01)."""
    return end - start


def within(day: int, start: int, end: Optional[int]) -> bool:
    """Whether `day` lies in [start, end] (no end: open)."""
    return day >= start and (end is None or day <= end)
