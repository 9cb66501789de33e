"""Run a model in plain CPython on CSV files: the local counterpart of the host, for a model's own
tests and for trying it on fixtures before building a component.

    from sieve_sdk.local import run
    out = run(MyModel, {"lending_cases": "fixtures/lending_cases.csv"}, {"min-suits": 14})
    out.clues  # the Clues, checked against the host's rules

From a shell: `python -m sieve_sdk.local app.py DATA_DIR [--param NAME=VALUE ...]` prints the clues
as JSON lines. Cells are read as the host reads a CSV import: an empty cell is null, dates are
`YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS[Z]`, booleans `true`/`false`; a bad cell is an error
naming the file, line and column. Text columns are served plain (the host serves key columns
dictionary-encoded): a model must give the same clues either way.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import sys
from typing import Dict, List, Optional

from .columns import Strings
from .context import Context, RawColumn
from .model import Clue, ModelError, check_clue

_EPOCH = datetime.date(1970, 1, 1)


class LocalError(Exception):
    """Bad input to a local run: a missing table or column, a bad cell, an unknown parameter."""


class Output:
    def __init__(self):
        self.clues: List[Clue] = []
        self.logs: List[tuple] = []
        self.progress: Optional[tuple] = None


def _parse(ty: str, cell: str):
    if ty == "text":
        return cell
    cell = cell.strip()
    if ty == "int64":
        return int(cell)
    if ty == "float64":
        x = float(cell)
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return x
    if ty == "boolean":
        if cell not in ("true", "false"):
            raise ValueError("expected true or false")
        return cell == "true"
    if ty == "date":
        if len(cell) != 10 or cell[4] != "-" or cell[7] != "-":
            raise ValueError("expected a date YYYY-MM-DD")
        return (datetime.date.fromisoformat(cell) - _EPOCH).days
    if ty == "timestamp":
        text = cell[:-1] if cell.endswith("Z") else cell
        if len(text) != 19 or text[10] not in "T ":
            raise ValueError("expected a timestamp YYYY-MM-DDTHH:MM:SS")
        when = datetime.datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=datetime.timezone.utc)
        return int(when.timestamp()) * 1000
    raise ValueError(f"unknown type {ty}")


_PLACEHOLDER = {"text": "", "int64": 0, "float64": 0.0, "boolean": False, "date": 0, "timestamp": 0}


class _Table:
    def __init__(self, name: str, spec, text: str, source: str):
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise LocalError(f"{source}: empty file (no header)") from None
        where = {h: i for i, h in enumerate(header)}
        missing = [c.name for c in spec.columns if c.name not in where]
        if missing:
            raise LocalError(f"{source}: no column {', '.join(missing)} (declared by the model)")
        self.spec = spec
        self.values: Dict[str, list] = {c.name: [] for c in spec.columns}
        self.valid: Dict[str, List[bool]] = {c.name: [] for c in spec.columns}
        self.rows = 0
        for line, record in enumerate(reader, start=2):
            for c in spec.columns:
                cell = record[where[c.name]] if where[c.name] < len(record) else ""
                if cell == "":
                    self.values[c.name].append(_PLACEHOLDER[c.type])
                    self.valid[c.name].append(False)
                    continue
                try:
                    self.values[c.name].append(_parse(c.type, cell))
                except ValueError as e:
                    raise LocalError(f"{source}: line {line}, column {c.name}: {e}") from None
                self.valid[c.name].append(True)
            self.rows += 1
        self.name = name

    def validity(self, column: str, start: int, end: int) -> Optional[bytes]:
        flags = self.valid[column][start:end]
        if all(flags):
            return None
        out = bytearray((len(flags) + 7) // 8)
        for i, ok in enumerate(flags):
            if ok:
                out[i >> 3] |= 1 << (i & 7)
        return bytes(out)


class LocalBackend:
    def __init__(self, info, tables: Dict[str, _Table], out: Output):
        self._info = info
        self._tables = tables
        self._open: List[_Table] = []
        self._out = out
        self.invalid: Optional[str] = None

    def open_table(self, name: str) -> int:
        if name not in self._tables:
            raise LocalError(f"table {name!r} was not declared by the model or not given")
        self._open.append(self._tables[name])
        return len(self._open) - 1

    def row_count(self, handle: int) -> int:
        return self._open[handle].rows

    def read(self, handle: int, columns: List[str], start: int, max_rows: int):
        table = self._open[handle]
        start = min(start, table.rows)
        end = min(start + max_rows, table.rows)
        out = []
        for name in columns:
            spec = table.spec.find(name)
            if spec is None:
                raise LocalError(f"{table.name}.{name} was not declared by the model")
            values = table.values[name][start:end]
            if spec.type == "text":
                encoded = [v.encode("utf-8") for v in values]
                offsets = [0]
                for b in encoded:
                    offsets.append(offsets[-1] + len(b))
                payload = Strings(b"".join(encoded), offsets)
            else:
                payload = values
            out.append(RawColumn(name, spec.type, payload, table.validity(name, start, end)))
        return start, end - start, out

    def dictionary(self, handle: int, column: str):
        raise LocalError(f"{column} is not dictionary-encoded in a local run")

    def dictionary_id(self, handle: int, column: str) -> int:
        raise LocalError(f"{column} is not dictionary-encoded in a local run")

    def group(self, handle: int, column: str, min_rows: int):
        """None: `ops.Index` groups in Python (the host groups in the component)."""
        return None

    def matches(self, handle: int, column: str, texts: List[str]):
        """None: `TextColumn.matches` compares in Python (the host does in the component)."""
        return None

    def emit(self, clues: List[Clue]) -> None:
        counts = {name: t.rows for name, t in self._tables.items()}
        for clue in clues:
            if self.invalid is None:
                self.invalid = check_clue(clue, counts)
        self._out.clues.extend(clues)

    def log(self, level: str, message: str) -> None:
        self._out.logs.append((level, message))

    def progress(self, done: int, total: int) -> None:
        self._out.progress = (done, total)


def resolve_params(info, given: Dict[str, object]) -> Dict[str, object]:
    """Every declared parameter, its default unless `given` sets it; text values are parsed."""
    declared = {p.name: p for p in info.params}
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise LocalError(f"unknown parameter {', '.join(unknown)} (declared: {', '.join(declared) or 'none'})")
    out = {}
    for name, p in declared.items():
        value = given.get(name, p.default)
        if isinstance(value, str) and p.type != "text":
            try:
                value = {"int": int, "float": float, "boolean": lambda v: {"true": True, "false": False}[v]}[
                    p.type
                ](value)
            except (ValueError, KeyError):
                raise LocalError(f"parameter {name}: expected {p.type}, got {value!r}") from None
        out[name] = value
    return out


def run(model_class, tables: Dict[str, str], params: Optional[Dict[str, object]] = None) -> Output:
    """Run `model_class` on CSV `tables` (name -> file path, or CSV text when it contains a newline)."""
    info = model_class.describe()
    loaded = {}
    for spec in info.inputs:
        if spec.name not in tables:
            raise LocalError(f"no CSV given for declared table {spec.name!r}")
        source = tables[spec.name]
        if "\n" in source:
            text, where = source, f"{spec.name} (text)"
        else:
            with open(source, encoding="utf-8", newline="") as f:
                text, where = f.read(), source
        loaded[spec.name] = _Table(spec.name, spec, text, where)
    out = Output()
    backend = LocalBackend(info, loaded, out)
    ctx = Context(backend, resolve_params(info, params or {}))
    model_class.run(ctx)
    ctx.flush()
    if backend.invalid is not None:
        raise ModelError(f"invalid clue: {backend.invalid}")
    return out


def clue_json(clue: Clue) -> str:
    """A clue as one JSON line, fields as the host writes them."""
    return json.dumps(
        {
            "evidence": [{"row": e.row, "table": e.table} for e in clue.evidence_rows],
            "reason": clue.reason,
            "rule": clue.rule,
            "score": clue.score,
            "subject": clue.subject,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _main(argv: List[str]) -> int:
    import argparse
    import importlib.util

    parser = argparse.ArgumentParser(prog="python -m sieve_sdk.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="the model's app.py (it defines an SDK Model subclass)")
    parser.add_argument("data", help="a directory with one <table>.csv per declared table")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--model", help="the Model subclass's name, when the app defines several")
    args = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("sieve_local_app", args.app)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.app)))
    spec.loader.exec_module(module)
    from .model import Model

    candidates = []
    for name, value in vars(module).items():
        is_model = isinstance(value, type) and issubclass(value, Model) and value is not Model
        if is_model and args.model in (None, name) and value not in candidates:
            candidates.append(value)
    if len(candidates) != 1:
        print(f"error: {args.app} defines {len(candidates)} SDK models; name one with --model", file=sys.stderr)
        return 2
    params = dict(p.split("=", 1) for p in args.param)
    info = candidates[0].describe()
    tables = {t.name: os.path.join(args.data, f"{t.name}.csv") for t in info.inputs}
    try:
        out = run(candidates[0], tables, params)
    except (LocalError, ModelError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for clue in out.clues:
        print(clue_json(clue))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
