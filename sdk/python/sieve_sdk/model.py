"""What a model says about itself (ModelInfo, TableSpec, parameters), clues, and model errors.

The same shapes as the Rust SDK's `sieve_sdk::model`, written for Python: a model declares its
inputs and parameters in `describe()`, and the host refuses a dataset that lacks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Union

# The host's limits on one clue (the Rust SDK's `clue_limits`); a clue past them fails the run.
MAX_SUBJECT_BYTES = 1024
MAX_RULE_BYTES = 64
MAX_REASON_BYTES = 4096
MAX_EVIDENCE_ROWS = 256

COLUMN_TYPES = ("text", "int64", "float64", "boolean", "date", "timestamp")
PARAM_TYPES = ("int", "float", "boolean", "text")

ParamValue = Union[int, float, bool, str]


class ModelError(Exception):
    """Why a model gave up; raise one of the subclasses from `run`."""

    kind = "failed"


class BadParam(ModelError):
    """A parameter value is out of range; the message says which and why."""

    kind = "bad-param"


class BadData(ModelError):
    """The data is unusable for the model; the message says where."""

    kind = "bad-data"


class Failed(ModelError):
    """Any other failure."""

    kind = "failed"


@dataclass
class ColumnSpec:
    name: str
    type: str


class TableSpec:
    """A table the model reads, with the columns it declares (and may read) and their types."""

    def __init__(self, name: str):
        self.name = name
        self.columns: List[ColumnSpec] = []

    def _add(self, names: Iterable[str], ty: str) -> "TableSpec":
        if isinstance(names, str):
            names = [names]
        for n in names:
            self.columns.append(ColumnSpec(n, ty))
        return self

    def text(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "text")

    def int64(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "int64")

    def float64(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "float64")

    def boolean(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "boolean")

    def date(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "date")

    def timestamp(self, names: Iterable[str]) -> "TableSpec":
        return self._add(names, "timestamp")

    def find(self, name: str) -> Optional[ColumnSpec]:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class ParamSpec:
    name: str
    type: str
    default: ParamValue
    description: str


class ModelInfo:
    """Identity, task, inputs and parameters, built fluently:
    `ModelInfo("name", "0.1.0").summary(...).task(...).input(TableSpec(...)).param_int(...)`."""

    def __init__(self, name: str, version: str):
        self.name = name
        self.version = version
        self.summary_text = ""
        self.task_id = ""
        self.subject_kind = ""
        self.inputs: List[TableSpec] = []
        self.params: List[ParamSpec] = []

    def summary(self, text: str) -> "ModelInfo":
        self.summary_text = text
        return self

    def task(self, task: str, subject_kind: str) -> "ModelInfo":
        self.task_id, self.subject_kind = task, subject_kind
        return self

    def input(self, table: TableSpec) -> "ModelInfo":
        self.inputs.append(table)
        return self

    def param_int(self, name: str, default: int, description: str) -> "ModelInfo":
        self.params.append(ParamSpec(name, "int", int(default), description))
        return self

    def param_float(self, name: str, default: float, description: str) -> "ModelInfo":
        self.params.append(ParamSpec(name, "float", float(default), description))
        return self

    def param_bool(self, name: str, default: bool, description: str) -> "ModelInfo":
        self.params.append(ParamSpec(name, "boolean", bool(default), description))
        return self

    def param_text(self, name: str, default: str, description: str) -> "ModelInfo":
        self.params.append(ParamSpec(name, "text", str(default), description))
        return self

    def table(self, name: str) -> Optional[TableSpec]:
        return next((t for t in self.inputs if t.name == name), None)


@dataclass
class Evidence:
    table: str
    row: int


@dataclass
class Clue:
    """A lead for a prosecutor: subject, score in [0, 1], rule id, reason, evidence rows."""

    subject: str
    score: float
    rule: str
    reason: str = ""
    evidence_rows: List[Evidence] = field(default_factory=list)

    def evidence(self, table: str, rows: Iterable[int]) -> "Clue":
        """Add rows of `table` as evidence, up to the host's limit of MAX_EVIDENCE_ROWS per clue
        (rows past it are left out rather than failing the run: list the telling rows first)."""
        room = MAX_EVIDENCE_ROWS - len(self.evidence_rows)
        for row in rows:
            if room <= 0:
                break
            self.evidence_rows.append(Evidence(table, int(row)))
            room -= 1
        return self


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o < 0xA0 or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069


def check_clue(clue: Clue, row_counts: dict) -> Optional[str]:
    """The host's rules for a clue (the Rust SDK's `Clue::check` and its evidence check), so that a
    model's local tests catch what the host refuses. `row_counts` maps each declared table to its
    rows. Returns why the clue is invalid, or None."""
    subject = clue.subject
    if not subject.strip() or len(subject.encode()) > MAX_SUBJECT_BYTES or any(map(_is_control, subject)):
        return f"subject {subject!r} must be 1-{MAX_SUBJECT_BYTES} bytes without control characters"
    if not clue.rule or len(clue.rule.encode()) > MAX_RULE_BYTES or any(map(_is_control, clue.rule)):
        return f"{subject}: rule {clue.rule!r} must be 1-{MAX_RULE_BYTES} bytes without control characters"
    if not (isinstance(clue.score, (int, float)) and 0.0 <= clue.score <= 1.0):
        return f"{subject}: score {clue.score} is not in [0, 1]"
    if len(clue.reason.encode()) > MAX_REASON_BYTES or len(clue.evidence_rows) > MAX_EVIDENCE_ROWS:
        return f"{subject}: reason over {MAX_REASON_BYTES} bytes or over {MAX_EVIDENCE_ROWS} evidence rows"
    for e in clue.evidence_rows:
        rows = row_counts.get(e.table)
        if rows is None:
            return f"{subject}: evidence names table {e.table!r}, which the model did not declare"
        if not (0 <= e.row < rows):
            return f"{subject}: evidence row {e.row} of {e.table!r} is past its {rows} rows"
    return None


class Model:
    """Subclass this: `describe()` returns a ModelInfo, `run(ctx)` reads tables and emits clues.
    Both are static methods (a model holds no state between runs)."""

    @staticmethod
    def describe() -> ModelInfo:
        raise NotImplementedError

    @staticmethod
    def run(ctx) -> None:
        raise NotImplementedError
