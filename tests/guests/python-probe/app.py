"""A Python model that probes the host, for the integration tests (not a supervision model).

`mode` picks the probe:
- `values`: reads a table of every column type, with nulls and non-ASCII text, and emits one clue
  per row whose reason spells out every value as the model saw it; the same model run by the SDK's
  local runner on the same CSV must give the same clues.
- `group`: emits one clue per group of `events.who` with at least `min-rows` rows.
- `raise`: an ordinary Python exception (its traceback must reach the run report).
- `print`: prints a line to stdout, then emits a clue.
- `socket`: tries to connect to a loopback port and reports the exception it gets.
- `undeclared-read`, `-dictionary`, `-group`, `-matches`: asks the host for a column the model did
  not declare, through each 0.1.2 method that names one.
- `group-forever`: groups a column again and again (fuel must end it).
- `matches`: one clue whose reason lists the rows of `events.who` holding `alice` or the case
  number, flagged by the host; `matches-int` asks for flags on an int64 column (refused).
- `columns-*`: hands the host a batch of clue columns it must refuse: a table index past the
  tables named (`columns-index`), evidence that is not whole (table, row) pairs (`columns-odd`), an
  undeclared table (`columns-undeclared`), a row past the table (`columns-row`), offsets past the
  bytes (`columns-offsets`), a subject that is not UTF-8 (`columns-utf8`).
"""

from array import array

import socket

from sieve_sdk import Clue, Model, ModelInfo, TableSpec, ops
from sieve_sdk.guest import export

COLUMNS = ["who", "amount", "score", "flag", "day", "at"]


class Probe(Model):
    @staticmethod
    def describe():
        return (
            ModelInfo("python-probe", "0.1.0")
            .summary("Probes the host for the integration tests.")
            .task("probe", "row")
            .input(
                TableSpec("events")
                .text(["who"])
                .int64(["amount"])
                .float64(["score"])
                .boolean(["flag"])
                .date(["day"])
                .timestamp(["at"])
            )
            .param_text("mode", "values", "Which probe to run.")
            .param_int("min-rows", 1, "The group probe's min-rows.")
        )

    @staticmethod
    def run(ctx):
        mode = ctx.param("mode")
        if mode == "raise":
            return {}["no such key"]
        if mode == "print":
            print("hello from python")
            ctx.emit(Clue("printed", 0.5, "print", "printed a line"))
            return
        if mode == "socket":
            try:
                # An address, not a name: no lookup (and no codec) before the connect itself.
                socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 9))
                outcome = "connected"
            except Exception as e:  # noqa: BLE001 - the probe reports whatever it gets
                outcome = type(e).__name__
            ctx.emit(Clue("socket", 0.5, "socket", outcome))
            return
        if mode.startswith("columns-"):
            emit_columns(ctx, mode)
            return
        events = ctx.table("events")
        if mode.startswith("undeclared-"):
            backend, handle = events._ctx._backend, events._handle
            ask = {
                "undeclared-read": lambda: backend.read(handle, ["who", "secret"], 0, 10),
                "undeclared-dictionary": lambda: backend.dictionary(handle, "secret"),
                "undeclared-group": lambda: backend.group(handle, "secret", 1),
                "undeclared-matches": lambda: backend.matches(handle, "secret", ["x"]),
            }[mode]
            ask()
            return
        frame = events.load(COLUMNS)
        if mode == "matches":
            flags = frame.text("who").matches(["alice", "(2017)浙0102民初49号", "nobody"])
            ctx.emit(Clue("matches", 0.5, "matches", " ".join(str(f) for f in flags)))
            return
        if mode == "matches-int":
            events._ctx._backend.matches(events._handle, "amount", ["1"])
            return
        if mode == "group-forever":
            who = frame.text("who")
            while True:
                ops.Index.build(who)
        if mode == "group":
            for value, rows in ops.Index.build(frame.text("who"), min_rows=ctx.param("min-rows")).groups():
                ctx.emit(Clue(value, 0.5, "group", " ".join(str(r) for r in rows)).evidence("events", rows))
            return
        columns = [frame.column(c) for c in COLUMNS]
        for row in range(len(frame)):
            reason = " | ".join(f"{c.name}={c.get(row)!r}" for c in columns)
            ctx.emit(Clue(f"row-{row}", 0.5, "values", reason).evidence("events", [row]))


def emit_columns(ctx, mode):
    """Calls `emit-columns` itself, past the SDK, with one clue and what `mode` says is wrong."""
    from wit_world.imports import types

    def words(*values):
        return array("I", values).tobytes()

    tables, pairs, subject, subject_end = ["events"], [0, 1], b"s", 1
    if mode == "columns-index":
        pairs = [1, 1]
    elif mode == "columns-undeclared":
        tables = ["labels"]
    elif mode == "columns-row":
        pairs = [0, 7]
    elif mode == "columns-offsets":
        subject_end = 99
    elif mode == "columns-utf8":
        subject = b"\xff"
    evidence = array("I", pairs).tobytes()
    if mode == "columns-odd":
        evidence = evidence[:7]
    columns = types.ClueColumns(
        subjects=subject,
        subject_offsets=words(0, subject_end),
        rules=b"r",
        rule_offsets=words(0, 1),
        reasons=b"",
        reason_offsets=words(0, 0),
        scores=array("d", [0.5]).tobytes(),
        evidence=evidence,
        evidence_offsets=words(0, len(pairs) // 2),
    )
    ctx._backend._host.emit_columns(tables, columns)


Model = export(Probe)
