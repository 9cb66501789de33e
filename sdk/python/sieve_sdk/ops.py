"""Operators a rule is made of: an index (group-by) over a text column, joins through it, shares,
date windows. Over a dictionary-encoded column they work on codes, so no text is decoded until a
clue needs it.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from .columns import TextColumn

EMPTY: List[int] = []


class Index:
    """The rows of each distinct non-null value of a text column, in row order; groups iterate in
    order of first appearance (as the Rust SDK's `Index`). `min_rows` keeps only the groups with at
    least that many rows (a rule's "at least 15 suits"), so a walk over the groups never visits the
    rest. Inside a component the host groups the column (`table.group`, a counting sort over
    dictionary codes) and the index is three arrays viewed in place; elsewhere it is built here."""

    def __init__(self, column: TextColumn, rows: Sequence[int], starts: Sequence[int],
                 group_of_code: Optional[Sequence[int]], group_of_key: Optional[Dict[object, int]]):
        self._column = column
        self._rows = rows
        self._starts = starts
        # Dictionary columns: 1 + the group of each code (0: none). Others: key -> group.
        self._group_of_code = group_of_code
        self._group_of_key = group_of_key
        self._by_text: Optional[Dict[str, int]] = None

    @staticmethod
    def build(column: TextColumn, min_rows: int = 1) -> "Index":
        if column.source is not None:
            backend, handle = column.source
            grouped = backend.group(handle, column.name, max(min_rows, 0))
            if grouped is not None:
                rows, starts, group_of_code = grouped
                return Index(column, rows, starts, group_of_code if column.codes is not None else None, None)
        return Index._build_here(column, min_rows)

    @staticmethod
    def _build_here(column: TextColumn, min_rows: int) -> "Index":
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
        flat: List[int] = []
        starts = [0]
        group_of_key: Dict[object, int] = {}
        for key, rows in groups.items():
            if len(rows) >= min_rows:
                group_of_key[key] = len(starts) - 1
                flat.extend(rows)
                starts.append(len(flat))
        return Index(column, flat, starts, None, group_of_key)

    def __len__(self) -> int:
        """Number of groups kept."""
        return len(self._starts) - 1

    def group(self, g: int) -> Sequence[int]:
        """The rows of group `g` (0-based, in order of first appearance)."""
        return self._rows[self._starts[g] : self._starts[g + 1]]

    def groups(self) -> Iterator[Tuple[str, Sequence[int]]]:
        """(value, rows) for each group kept, in order of first appearance."""
        rows, starts, column = self._rows, self._starts, self._column
        for g in range(len(starts) - 1):
            group = rows[starts[g] : starts[g + 1]]
            yield column.get(group[0]), group

    def _group_of_text(self, value: str) -> int:
        """The group of a text value, or -1."""
        if self._group_of_key is not None and self._column.codes is None:
            return self._group_of_key.get(value, -1)
        if self._group_of_code is not None:
            code = self._column.dictionary.code_of(value)
            return -1 if code is None else self._group_of_code[code] - 1
        if self._by_text is None:
            column = self._column
            self._by_text = {column.get(self.group(g)[0]): g for g in range(len(self))}
        return self._by_text.get(value, -1)

    def get(self, value: str) -> Sequence[int]:
        """The rows holding `value` (text); [] if none, or if its group had fewer than min_rows."""
        g = self._group_of_text(value)
        return EMPTY if g < 0 else self.group(g)

    def group_of_row(self, column: TextColumn, i: int) -> int:
        """The group holding the value that row `i` of `column` holds, or -1 (none, or null): by
        code when `column` shares this index's dictionary (no text decoded), by text otherwise."""
        mine = self._column
        if mine.codes is not None and column.codes is not None and column.dictionary_id == mine.dictionary_id:
            code = column.code(i)
            if code is None:
                return -1
            if self._group_of_code is not None:
                return self._group_of_code[code] - 1
            return self._group_of_key.get(code, -1)
        value = column.get(i)
        return -1 if value is None else self._group_of_text(value)

    def lookup(self, column: TextColumn) -> Callable[[int], int]:
        """`group_of_row` for one column, as a function of the row: over a shared dictionary it
        indexes two arrays and nothing else, the form a loop over a million rows wants."""
        mine = self._column
        groups = self._group_of_code
        if groups is not None and column.codes is not None and column.dictionary_id == mine.dictionary_id:
            codes, valid = column.codes, column.validity
            if valid is None:
                return lambda row: groups[codes[row]] - 1
            return lambda row: groups[codes[row]] - 1 if valid(row) else -1
        return lambda row: self.group_of_row(column, row)

    def rows_of(self, column: TextColumn, i: int) -> Sequence[int]:
        """The rows holding the value that row `i` of `column` holds (see `group_of_row`); [] if
        none."""
        g = self.group_of_row(column, i)
        return EMPTY if g < 0 else self.group(g)

    def key(self, g: int) -> str:
        """The value of group `g`."""
        return self._column.get(self.group(g)[0])


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
