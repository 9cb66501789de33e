"""The component side: the `sieve:model` export for componentize-py, and the host backend.

In the model's `app.py`:

    from sieve_sdk.guest import export
    Model = export(MyModel)

componentize-py looks for the class `Model` in the app module; `export` builds it around the SDK
model. The `wit_world` bindings exist only inside the component build (`sieve build`), so they are
imported here, not at the package's top level: the same model runs locally with `sieve_sdk.local`.
"""

from __future__ import annotations

import gc

# Imported here, not where it is used: componentize-py bundles the modules a component's code
# imports at the top, and one imported only inside a function would be missing at run time.
import traceback
from array import array
from typing import List

from .columns import Strings
from .context import Context, RawColumn, model_error
from .model import ModelError

_COLUMN_TYPES = {
    "text": "TEXT",
    "int64": "INT64",
    "float64": "FLOAT64",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
# `raw-layout` by number: the column kind, and the memoryview format of its little-endian values
# (None: text, bytes and u32 offsets).
_RAW_LAYOUTS = (
    ("text", None),
    ("dictionary", "I"),
    ("int64", "q"),
    ("float64", "d"),
    ("boolean", "?"),
    ("date", "i"),
    ("timestamp", "q"),
)
_PARAM_TYPES = {"int": "INT", "float": "FLOAT", "boolean": "BOOLEAN", "text": "TEXT"}
# Contexts of runs, never freed (see `export`).
_KEPT: List[object] = []
_LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"}


class HostBackend:
    """Tables and the clue sink through the host's imports."""

    def __init__(self, host, types):
        self._host = host
        self._t = types
        self._tables: List[object] = []

    def open_table(self, name: str) -> int:
        try:
            self._tables.append(self._host.open_table(name))
        except Exception as e:  # componentize-py raises Err(access-error)
            raise model_error_from_access(e) from None
        return len(self._tables) - 1

    def row_count(self, handle: int) -> int:
        return self._tables[handle].row_count()

    def read(self, handle: int, columns: List[str], start: int, max_rows: int):
        try:
            batch = self._tables[handle].read_raw(columns, start, max_rows)
        except Exception as e:
            raise model_error_from_access(e) from None
        out = []
        for c in batch.columns:
            kind, view = _RAW_LAYOUTS[c.layout.value]
            if view is None:
                payload = Strings(c.values, memoryview(c.offsets).cast("I"))
            else:
                payload = memoryview(c.values).cast(view)
            out.append(RawColumn(c.name, kind, payload, c.validity))
        return batch.start, batch.len, out

    def dictionary(self, handle: int, column: str):
        try:
            text = self._tables[handle].dictionary_raw(column)
        except Exception as e:
            raise model_error_from_access(e) from None
        return text.bytes, memoryview(text.offsets).cast("I")

    def group(self, handle: int, column: str, min_rows: int):
        try:
            g = self._tables[handle].group(column, min_rows)
        except Exception as e:
            raise model_error_from_access(e) from None
        return memoryview(g.rows).cast("I"), memoryview(g.starts).cast("I"), memoryview(g.group_of_code).cast("I")

    def dictionary_id(self, handle: int, column: str) -> int:
        try:
            return self._tables[handle].dictionary_id(column)
        except Exception as e:
            raise model_error_from_access(e) from None

    def matches(self, handle: int, column: str, texts: List[str]):
        try:
            return self._tables[handle].matches(column, texts)
        except Exception as e:
            raise model_error_from_access(e) from None

    def emit(self, clues) -> None:
        """The clues as columns (`emit-columns`): nine byte lists per batch, where a record and
        four strings per clue cost more to lower than the rest of emitting."""

        def text(values):
            encoded = [v.encode("utf-8") for v in values]
            offsets = array("I", [0])
            for b in encoded:
                offsets.append(offsets[-1] + len(b))
            return b"".join(encoded), offsets.tobytes()

        subjects, subject_offsets = text(c.subject for c in clues)
        rules, rule_offsets = text(c.rule for c in clues)
        reasons, reason_offsets = text(c.reason for c in clues)
        tables: List[str] = []
        table_index = {}
        pairs = array("I")
        evidence_offsets = array("I", [0])
        for c in clues:
            for e in c.evidence_rows:
                k = table_index.get(e.table)
                if k is None:
                    k = table_index[e.table] = len(tables)
                    tables.append(e.table)
                pairs.append(k)
                pairs.append(e.row)
            evidence_offsets.append(len(pairs) // 2)
        columns = self._t.ClueColumns(
            subjects=subjects,
            subject_offsets=subject_offsets,
            rules=rules,
            rule_offsets=rule_offsets,
            reasons=reasons,
            reason_offsets=reason_offsets,
            scores=array("d", (float(c.score) for c in clues)).tobytes(),
            evidence=pairs.tobytes(),
            evidence_offsets=evidence_offsets.tobytes(),
        )
        self._host.emit_columns(tables, columns)

    def log(self, level: str, message: str) -> None:
        self._host.log(getattr(self._t.LogLevel, _LOG_LEVELS[level]), message)

    def progress(self, done: int, total: int) -> None:
        self._host.progress(done, total)


def model_error_from_access(e: Exception) -> ModelError:
    """An `access-error` from the host as the model error the run ends with."""
    from .model import BadData

    value = getattr(e, "value", e)
    detail = getattr(value, "value", value)
    return BadData(f"{type(value).__name__.replace('AccessError_', '')}: {detail}")


def _param_value(types, ty: str, value):
    if ty == "int":
        return types.ParamValue_Int(int(value))
    if ty == "float":
        return types.ParamValue_Float(float(value))
    if ty == "boolean":
        return types.ParamValue_Boolean(bool(value))
    return types.ParamValue_Text(str(value))


def export(model_class):
    """The componentize-py `Model` class that serves `model_class` (an SDK `Model`). Outside a
    component build (no `wit_world` bindings: plain CPython, `sieve_sdk.local`, a test) it
    returns `model_class` itself, so the same app module imports anywhere."""
    try:
        from componentize_py_types import Err
        from wit_world import exports
        from wit_world.imports import host
        from wit_world.imports import types as t
    except ImportError:
        return model_class

    class Model(exports.Model):
        def describe(self):
            info = model_class.describe()
            return t.ModelInfo(
                name=info.name,
                version=info.version,
                summary=info.summary_text,
                task=info.task_id,
                subject_kind=info.subject_kind,
                inputs=[
                    t.TableSpec(
                        name=table.name,
                        columns=[
                            t.ColumnSpec(name=c.name, type=getattr(t.ColumnType, _COLUMN_TYPES[c.type]))
                            for c in table.columns
                        ],
                    )
                    for table in info.inputs
                ],
                params=[
                    t.ParamSpec(
                        name=p.name,
                        type=getattr(t.ParamType, _PARAM_TYPES[p.type]),
                        default=_param_value(t, p.type, p.default),
                        description=p.description,
                    )
                    for p in info.params
                ],
            )

        def run(self, params):
            values = {p.name: p.value.value for p in params}
            ctx = Context(HostBackend(host, t), values)
            # The cycle collector would walk every list of a million-row table each time the
            # model's own allocations trigger it (a fifth of the Python T2's time); a run is one
            # short call whose memory the sandbox caps and frees whole, so it is off meanwhile.
            gc.disable()
            # Kept past the call: the instance is discarded after one run, memory and all, so
            # freeing a million-row table's objects one by one on the way out is wasted time.
            _KEPT.append(ctx)
            try:
                model_class.run(ctx)
                ctx.flush()
            except BaseException as e:  # noqa: BLE001 - every failure becomes the run's model-error
                error = model_error(e)
                if error is not e:
                    # Not one of the SDK's errors: keep the traceback on stderr for the run report.
                    traceback.print_exc()
                variant = {
                    "bad-param": t.ModelError_BadParam,
                    "bad-data": t.ModelError_BadData,
                }.get(error.kind, t.ModelError_Failed)
                raise Err(variant(str(error)))

    return Model
