"""What `run` gets: parameters, the declared tables, and the clue sink (batched).

A backend is the host (`guest.py`, inside the component) or the local CSV harness (`local.py`);
the model cannot tell them apart.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from .columns import Column, Dictionary, Frame, Strings, TextColumn, Validity
from .model import BadData, BadParam, Clue, ModelError

# Rows per `table.read` when a table is loaded whole (the host's batches are bounded by this).
LOAD_BATCH_ROWS = 1 << 20
# Clues handed to the host per `emit` call.
EMIT_BATCH = 512
LOG_LEVELS = ("debug", "info", "warn", "error")


class RawColumn:
    """One column of one batch as a backend hands it over: `kind` is a column type, or
    `dictionary` (then `payload` is the codes), or `text` (then `payload` is Strings). Other
    payloads are indexable values: a memoryview over the host's bytes, or a list."""

    __slots__ = ("name", "kind", "payload", "validity")

    def __init__(self, name: str, kind: str, payload, validity: Optional[bytes]):
        self.name, self.kind, self.payload, self.validity = name, kind, payload, validity


class Context:
    def __init__(self, backend, params: Dict[str, object]):
        self._backend = backend
        self._params = params
        self._pending: List[Clue] = []
        self._dictionaries: Dict[int, Dictionary] = {}
        # Every frame loaded, kept for as long as the context: see `guest.py` on why.
        self.frames: List[Frame] = []

    def param(self, name: str):
        """The value of declared parameter `name` (its default unless the caller set it)."""
        if name not in self._params:
            raise BadParam(f"parameter {name!r} was not declared")
        return self._params[name]

    def table(self, name: str) -> "TableReader":
        return TableReader(self, self._backend.open_table(name), name)

    def emit(self, clue: Clue) -> None:
        """Emit a clue (buffered, handed to the host in batches)."""
        self._pending.append(clue)
        if len(self._pending) >= EMIT_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._backend.emit(self._pending)
            self._pending = []

    def log(self, level: str, message: str) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
        self._backend.log(level, message)

    def progress(self, done: int, total: int) -> None:
        self._backend.progress(done, total)

    def _dictionary(self, handle, column: str) -> Dictionary:
        """A column's dictionary: fetched once per dictionary id, shared by every column with it."""
        dictionary_id = self._backend.dictionary_id(handle, column)
        found = self._dictionaries.get(dictionary_id)
        if found is None:
            text, offsets = self._backend.dictionary(handle, column)
            found = Dictionary(dictionary_id, Strings(text, offsets))
            self._dictionaries[dictionary_id] = found
        return found


class TableReader:
    def __init__(self, ctx: Context, handle, name: str):
        self._ctx = ctx
        self._handle = handle
        self.name = name

    def row_count(self) -> int:
        return self._ctx._backend.row_count(self._handle)

    def load(self, columns: List[str]) -> Frame:
        """The named (declared) columns, whole, read in batches of LOAD_BATCH_ROWS rows."""
        backend = self._ctx._backend
        total = self.row_count()
        parts: Dict[str, List[RawColumn]] = {c: [] for c in columns}
        start = 0
        while True:
            batch_start, length, raw = backend.read(self._handle, columns, start, LOAD_BATCH_ROWS)
            if length == 0:
                break
            for column in raw:
                parts[column.name].append((length, column))
            start = batch_start + length
            if start >= total:
                break
        if start == 0:
            # An empty table: one zero-row read gives the columns their types.
            _, _, raw = backend.read(self._handle, columns, 0, 0)
            for column in raw:
                parts[column.name].append((0, column))
        loaded = {name: self._join(name, pieces, start) for name, pieces in parts.items()}
        for column in loaded.values():
            column.source = (backend, self._handle)
        frame = Frame(self.name, start, loaded)
        self._ctx.frames.append(frame)
        return frame

    def _join(self, name: str, pieces, rows: int) -> Column:
        if not pieces:
            raise BadData(f"{self.name}.{name}: the host sent no values")
        kind = pieces[0][1].kind
        if any(p.kind != kind for _, p in pieces):
            raise BadData(f"{self.name}.{name}: batches disagree on the column's type")
        validity = _join_validity(pieces, rows)
        if kind == "text":
            return TextColumn(name, validity, strings=Strings.join([p.payload for _, p in pieces]))
        values = _join_values([p.payload for _, p in pieces])
        if kind == "dictionary":
            dictionary = self._ctx._dictionary(self._handle, name)
            return TextColumn(name, validity, codes=values, dictionary=dictionary)
        return Column(name, kind, values, validity)


def _join_values(parts: list):
    """Several batches' values as one sequence: memoryviews (the host's raw bytes) are joined as
    bytes and viewed again, lists are concatenated."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, memoryview) for p in parts):
        return memoryview(b"".join(parts)).cast(parts[0].format)
    return [v for p in parts for v in p]


def _join_validity(pieces, rows: int) -> Optional[Validity]:
    if all(p.validity is None for _, p in pieces):
        return None
    if len(pieces) == 1:
        return Validity(pieces[0][1].validity)
    # Batches of LOAD_BATCH_ROWS rows start on byte boundaries, but a last short batch may not
    # fill its final byte: rebuild bit by bit only where needed.
    out = bytearray((rows + 7) // 8)
    at = 0
    for length, p in pieces:
        for i in range(length):
            if p.validity is None or (p.validity[i >> 3] >> (i & 7)) & 1:
                out[(at + i) >> 3] |= 1 << ((at + i) & 7)
        at += length
    return Validity(bytes(out))


def model_error(e: BaseException) -> ModelError:
    """A model's exception as a model error (anything but a ModelError is `failed`)."""
    if isinstance(e, ModelError):
        return e
    from .model import Failed

    return Failed(f"{type(e).__name__}: {e}")
