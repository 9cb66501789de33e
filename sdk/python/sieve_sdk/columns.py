"""Columns as the host serves them, decoded lazily.

- Text comes as the UTF-8 bytes of every value back to back and `len + 1` offsets that count
  *bytes*, not characters (`(2017)浙0102民初49号` is 25 bytes, 15 characters); no value is
  decoded before it is asked for.
- Numbers, dates, booleans and codes arrive as little-endian bytes viewed in place (`memoryview`
  cast to the value's type): indexing gives a Python number or bool, and no object exists for a
  cell that is never read.
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
    """Values back to back as UTF-8 bytes, with byte offsets: value i is
    `utf8[offsets[i]:offsets[i + 1]]`, decoded only when asked for."""

    __slots__ = ("utf8", "offsets")

    def __init__(self, utf8: bytes, offsets: Sequence[int]):
        self.utf8 = utf8
        self.offsets = offsets

    def __len__(self) -> int:
        return max(len(self.offsets) - 1, 0)

    def value(self, i: int) -> str:
        offsets = self.offsets
        return self.utf8[offsets[i] : offsets[i + 1]].decode("utf-8")

    @staticmethod
    def join(parts: List["Strings"]) -> "Strings":
        """Several batches' strings as one."""
        if len(parts) == 1:
            return parts[0]
        offsets, base = [0], 0
        for p in parts:
            offsets.extend(base + o for o in p.offsets[1:])
            base += len(p.utf8)
        return Strings(b"".join(p.utf8 for p in parts), offsets)


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
    """One column of a loaded table: `values` (indexable, a placeholder where null), `validity`
    (None when the column has no nulls), `get(i)` (None where null). `source` is where the
    whole column came from (backend, table handle), so `ops.Index` can ask the host to group it."""

    __slots__ = ("name", "type", "values", "validity", "source")

    def __init__(self, name: str, type_: str, values: Sequence, validity: Optional[Validity]):
        self.name = name
        self.type = type_
        self.values = values
        self.validity = validity
        self.source = None

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
                 codes: Optional[Sequence[int]] = None, dictionary: Optional[Dictionary] = None):
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

    def matches(self, texts: Sequence[str]):
        """One flag per row (indexable: 1 where the row holds one of `texts`, 0 where it does not or
        is null). Inside a component the host computes it (`table.matches`), so a filter over a
        million rows costs the model one index per row."""
        if self.source is not None:
            backend, handle = self.source
            flags = backend.matches(handle, self.name, list(texts))
            if flags is not None:
                return flags
        wanted = set(texts)
        return bytes(1 if self.get(i) in wanted else 0 for i in range(len(self)))

    def one_of(self, texts: Sequence[str]):
        """A test `row -> bool`: whether the row holds one of `texts` (False where null). On a
        dictionary-encoded column it reads a flag per code, with nothing decoded or hashed."""
        if self.codes is not None:
            flags = bytearray(len(self.dictionary))
            for t in texts:
                code = self.dictionary.code_of(t)
                if code is not None:
                    flags[code] = 1
            codes, valid = self.codes, self.validity
            if valid is None:
                return lambda row: flags[codes[row]] == 1
            return lambda row: flags[codes[row]] == 1 and valid(row)
        wanted = set(texts)
        return lambda row: self.get(row) in wanted

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
