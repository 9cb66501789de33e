// A JavaScript model that probes the host, for the integration tests (not a supervision model):
// the JavaScript counterpart of tests/guests/python-probe (same modes, same data).
//
// `mode` picks the probe: `values` (every column type, nulls and non-ASCII text, one clue per row
// spelling out each value; the local runner must agree), `group` (one clue per group of
// `events.who` with at least `min-rows` rows), `raise` (an ordinary exception), `print`
// (console.log, then a clue), `undeclared` (groups a column the model did not declare),
// `group-forever` (fuel must end it).
import { Clue, Model, ModelInfo, TableSpec, ops, exportModel } from "sieve-sdk";

const COLUMNS = ["who", "amount", "score", "flag", "day", "at"];

function show(v) {
  if (v === null) return "null";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v);
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

class Probe extends Model {
  static describe() {
    return new ModelInfo("js-probe", "0.1.0")
      .summary("Probes the host for the integration tests.")
      .task("probe", "row")
      .input(
        new TableSpec("events")
          .text(["who"])
          .int64(["amount"])
          .float64(["score"])
          .boolean(["flag"])
          .date(["day"])
          .timestamp(["at"]),
      )
      .paramText("mode", "values", "Which probe to run.")
      .paramInt("min-rows", 1, "The group probe's min-rows.");
  }

  static run(ctx) {
    const mode = ctx.param("mode");
    if (mode === "raise") throw new TypeError("no such thing");
    if (mode === "print") {
      console.log("hello from javascript");
      ctx.emit(new Clue("printed", 0.5, "print", "printed a line"));
      return;
    }
    const events = ctx.table("events");
    if (mode === "undeclared") {
      const who = events.load(["who"]).text("who");
      who.source[0].group(who.source[1], "secret", 1);
      return;
    }
    const frame = events.load(COLUMNS);
    if (mode === "group-forever") {
      for (;;) ops.Index.build(frame.text("who"));
    }
    if (mode === "group") {
      for (const [value, rows] of ops.Index.build(frame.text("who"), ctx.param("min-rows")).groups()) {
        ctx.emit(new Clue(value, 0.5, "group", Array.from(rows).join(" ")).evidence("events", rows));
      }
      return;
    }
    const columns = COLUMNS.map((c) => frame.column(c));
    for (let row = 0; row < frame.length; row++) {
      const reason = columns.map((c) => `${c.name}=${show(c.get(row))}`).join(" | ");
      ctx.emit(new Clue(`row-${row}`, 0.5, "values", reason).evidence("events", [row]));
    }
  }
}

export const model = exportModel(Probe);
