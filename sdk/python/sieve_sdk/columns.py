"""Columns as the host serves them, decoded lazily.

- Text comes as one string of every value back to back and `len + 1` offsets that count UTF-8
  *bytes*, not characters (`(2017)浙0102民初49号` is 25 bytes, 15 characters). A column slices
  the string directly when it is ASCII, and its UTF-8 bytes otherwise; no value is decoded
  before it is asked for.
- A dictionary-encoded text column holds one code per row; the codes index a dictionary that
  every column of the same key domain shares (same `dictionary_id`), so equal codes are equal
  values: group and join on `codes`, and decode only what becomes a clue.
- Nulls: a validity bitmap, least significant bit first; a null slot holds a placeholder, so
  check `is_valid(i)` (or use `get(i)`, which gives None) before trusting `values[i]`.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence


class Validity:
    """Which rows are not null (bit i of the bitmap, least significant first)."""

    __slots__ = ("bits",)

    def __init__(self, bits: bytes):
        self.bits = bits

    def __call__(self, i: int) -> bool:
        return (self.bits[i >> 3] >> (i & 7)) & 1 == 1


class Strings:
    """Values back to back in one string, with UTF-8 byte offsets: value i is bytes
    `offsets[i]:offsets[i + 1]` of the string's UTF-8 encoding."""

    __slots__ = ("_text", "_utf8", "offsets")

    def __init__(self, text: str, offsets: Sequence[int]):
        # ASCII text: byte offsets are character offsets, so the string is sliced as it is.
        self._text = text if text.isascii() else None
        self._utf8 = None if self._text is not None else text.encode("utf-8")
        self.offsets = offsets

    def __len__(self) -> int:
        return max(len(self.offsets) - 1, 0)

    def value(self, i: int) -> str:
        a, b = self.offsets[i], self.offsets[i + 1]
        if self._text is not None:
            return self._text[a:b]
        return self._utf8[a:b].decode("utf-8")

    @staticmethod
    def join(parts: List["Strings"]) -> "Strings":
        """Several batches' strings as one."""
        if len(parts) == 1:
            return parts[0]
        texts, offsets, base = [], [0], 0
        for p in parts:
            raw = p._utf8 if p._utf8 is not None else p._text.encode("utf-8")
            texts.append(raw)
            offsets.extend(base + o for o in p.offsets[1:])
            base += len(raw)
        joined = b"".join(texts).decode("utf-8")
        return Strings(joined, offsets)


class Dictionary:
    """The distinct values of a key domain; codes index it. Shared by the columns that have the
    same `id`, decoded only value by value."""

    __slots__ = ("id", "strings", "_code_of")

    def __init__(self, dictionary_id: int, strings: Strings):
        self.id = dictionary_id
        self.strings = strings
        self._code_of: Optional[Dict[str, int]] = None

    def __len__(self) -> int:
        return len(self.strings)

    def value(self, code: int) -> str:
        return self.strings.value(code)

    def code_of(self, text: str) -> Optional[int]:
        """The code of `text`, if the dictionary holds it (builds a lookup table on first use)."""
        if self._code_of is None:
            self._code_of = {self.strings.value(c): c for c in range(len(self.strings))}
        return self._code_of.get(text)


class Column:
    """One column of a loaded table: `values` (a list, a placeholder where null), `validity`
    (None when the column has no nulls), `get(i)` (None where null)."""

    __slots__ = ("name", "type", "values", "validity")

    def __init__(self, name: str, type_: str, values: list, validity: Optional[Validity]):
        self.name = name
        self.type = type_
        self.values = values
        self.validity = validity

    def __len__(self) -> int:
        return len(self.values)

    def is_valid(self, i: int) -> bool:
        return self.validity is None or self.validity(i)

    def get(self, i: int):
        if self.validity is not None and not self.validity(i):
            return None
        return self.values[i]


class TextColumn(Column):
    """A text column: plain (`strings`) or dictionary-encoded (`codes` into `dictionary`)."""

    __slots__ = ("strings", "codes", "dictionary")

    def __init__(self, name: str, validity: Optional[Validity], strings: Optional[Strings] = None,
                 codes: Optional[list] = None, dictionary: Optional[Dictionary] = None):
        super().__init__(name, "text", codes if codes is not None else [], validity)
        self.strings = strings
        self.codes = codes
        self.dictionary = dictionary

    def __len__(self) -> int:
        return len(self.codes) if self.codes is not None else len(self.strings)

    @property
    def dictionary_id(self) -> Optional[int]:
        return self.dictionary.id if self.dictionary is not None else None

    def get(self, i: int) -> Optional[str]:
        if self.validity is not None and not self.validity(i):
            return None
        if self.codes is not None:
            return self.dictionary.value(self.codes[i])
        return self.strings.value(i)

    def code(self, i: int) -> Optional[int]:
        """Row i's dictionary code (None where null or when the column is not encoded)."""
        if self.codes is None or (self.validity is not None and not self.validity(i)):
            return None
        return self.codes[i]


class Frame:
    """A table's declared columns, loaded whole."""

    def __init__(self, table: str, length: int, columns: Dict[str, Column]):
        self.table = table
        self.length = length
        self.columns = columns

    def __len__(self) -> int:
        return self.length

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            from .model import BadData

            raise BadData(f"{self.table}.{name} was not loaded") from None

    def _typed(self, name: str, ty: str) -> Column:
        col = self.column(name)
        if col.type != ty:
            from .model import BadData

            raise BadData(f"{self.table}.{name} is {col.type}, not {ty}")
        return col

    def text(self, name: str) -> TextColumn:
        return self._typed(name, "text")  # type: ignore[return-value]

    def int64(self, name: str) -> Column:
        return self._typed(name, "int64")

    def float64(self, name: str) -> Column:
        return self._typed(name, "float64")

    def boolean(self, name: str) -> Column:
        return self._typed(name, "boolean")

    def date(self, name: str) -> Column:
        return self._typed(name, "date")

    def timestamp(self, name: str) -> Column:
        return self._typed(name, "timestamp")
