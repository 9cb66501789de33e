// The JavaScript SDK's own tests (Node): columns read across several batches, with nulls and
// non-ASCII text, give what one whole read gives; an index groups in order of first appearance and
// keeps only groups of min-rows; text sorts in code point order; the local runner names a bad cell.
// Run with `node --test sdk/js/tests/` (the integration tests do).
import assert from "node:assert/strict";
import { test } from "node:test";

import { LocalError, run } from "../local.mjs";
import { Clue, Model, ModelInfo, TableSpec, checkClue, ops } from "../sieve-sdk.js";

const CASES =
  "case_no,plaintiff_id,filed_on,amount,paid,at\n" +
  Array.from({ length: 23 }, (_, i) => {
    const plaintiff = i % 4 ? `p${i % 3}` : "";
    const day = String(1 + (i % 28)).padStart(2, "0");
    return `(2017)浙0102民初${i}号,${plaintiff},2020-01-${day},${i}.5,${i % 5 ? (i % 2 === 0) : ""},2020-01-${day}T0${i % 10}:00:00Z\n`;
  }).join("");

class Everything extends Model {
  static describe() {
    return new ModelInfo("probe", "0.1.0")
      .task("private-lending-fraud", "case")
      .input(
        new TableSpec("lending_cases")
          .text(["case_no", "plaintiff_id"])
          .date(["filed_on"])
          .float64(["amount"])
          .boolean(["paid"])
          .timestamp(["at"]),
      );
  }
  static run(ctx) {
    const f = ctx.table("lending_cases").load(["case_no", "plaintiff_id", "filed_on", "amount", "paid", "at"]);
    const [caseNo, plaintiff] = [f.text("case_no"), f.text("plaintiff_id")];
    for (const [who, rows] of ops.Index.build(plaintiff).groups()) {
      for (const row of rows) {
        const reason = [who, f.date("filed_on").get(row), f.float64("amount").get(row), f.boolean("paid").get(row), f.timestamp("at").day(row)].map(String).join(" ");
        ctx.emit(new Clue(caseNo.get(row), 0.5, "probe", reason).evidence("lending_cases", [row]));
      }
    }
    ctx.emit(new Clue(caseNo.get(f.length - 1), 1.0, "last", String(plaintiff.get(f.length - 1))));
  }
}

const clues = (batchRows) =>
  run(Everything, { lending_cases: CASES }, {}, { batchRows }).clues.map((c) => [c.subject, c.rule, c.reason]);

function frame() {
  let seen = null;
  class Keep extends Everything {
    static run(ctx) {
      seen = ctx.table("lending_cases").load(["case_no", "plaintiff_id"]);
    }
  }
  run(Keep, { lending_cases: CASES });
  return seen;
}

test("batches give what one read gives", () => {
  const whole = clues(1 << 20);
  assert.equal(whole.length, 23 - 6 + 1, "rows with a null plaintiff are in no group");
  for (const rows of [1, 2, 5, 7, 8, 22]) assert.deepEqual(clues(rows), whole, `batches of ${rows} rows`);
  assert.ok(whole[0][0].endsWith("民初1号"), "groups in order of first appearance");
  assert.equal(whole[0][2], "p1 18263 1.5 false 18263", "row 1: a date, a float, a boolean, a timestamp's day");
  const row5 = whole.find(([subject]) => subject === "(2017)浙0102民初5号");
  assert.equal(row5[2], "p2 18267 5.5 null 18267", "row 5's boolean is null");
});

test("min-rows keeps only large groups", () => {
  const plaintiff = frame().text("plaintiff_id");
  const every = ops.Index.build(plaintiff);
  assert.deepEqual([...every.groups()].map(([who]) => who), ["p1", "p2", "p0"]);
  const big = ops.Index.build(plaintiff, 6);
  // Every fourth row is null: p1 (rows 1, 7, 10, 13, 19, 22) and p0 have six rows, p2 five.
  assert.deepEqual([...big.groups()].map(([who, rows]) => [who, [...rows]]), [
    ["p1", [1, 7, 10, 13, 19, 22]],
    ["p0", [3, 6, 9, 15, 18, 21]],
  ]);
  assert.equal(big.get("p2").length, 0, "a group under min-rows is not in the index");
  assert.equal(big.groupOfRow(plaintiff, 2), -1, "row 2 holds p2");
  assert.equal(big.lookup(plaintiff)(21), 1);
  assert.deepEqual([...big.rowsOf(plaintiff, 0)], [], "row 0 is null");
  const p1 = plaintiff.oneOf(["p1"]);
  assert.deepEqual([1, 2, 4].map(p1), [true, false, false]);
});

test("text sorts in code point order, as Rust and Python sort it", () => {
  const words = ["\u{1F600}", "\uFFFF", "b", "a"];
  assert.deepEqual(ops.sortByText(words, (w) => w), ["a", "b", "\uFFFF", "\u{1F600}"]);
  assert.deepEqual([...words].sort(), ["a", "b", "\u{1F600}", "\uFFFF"], "the engine's own order differs");
  assert.ok(ops.compareText("\uFFFF", "\u{1F600}") < 0);
});

test("clues are checked as the host checks them; evidence is capped", () => {
  const clue = new Clue("s", 0.5, "r").evidence("t", Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(clue.evidenceRows.length, 256);
  assert.match(checkClue(new Clue(" ", 0.5, "r"), {}), /subject/);
  assert.match(checkClue(new Clue("s", 1.5, "r"), {}), /score/);
  assert.match(checkClue(new Clue("s", 0.5, "r").evidence("t", [3]), { t: 3 }), /past its 3 rows/);
  assert.equal(checkClue(new Clue("s", 0.5, "r").evidence("t", [2]), { t: 3 }), null);
});

test("a bad cell names the line and column", () => {
  assert.throws(() => run(Everything, { lending_cases: CASES.replace("2020-01-03,", "2020-13-03,") }), (e) => {
    assert.ok(e instanceof LocalError);
    assert.match(e.message, /line 4, column filed_on/);
    return true;
  });
});
