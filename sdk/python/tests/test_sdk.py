"""The Python SDK's own tests (plain CPython): columns read across several batches, with nulls and
non-ASCII text, give what one whole read gives; an index groups in order of first appearance.
Run with `python3 -m unittest discover -s sdk/python/tests` (the integration tests do)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sieve_sdk import Clue, Model, ModelInfo, TableSpec, context, ops  # noqa: E402
from sieve_sdk.columns import Strings  # noqa: E402
from sieve_sdk.local import LocalError, run  # noqa: E402

CASES = "case_no,plaintiff_id,filed_on,amount\n" + "".join(
    f"(2017)浙0102民初{i}号,{'p' + str(i % 3) if i % 4 else ''},2020-01-{1 + i % 28:02d},{i}.5\n" for i in range(23)
)


class Everything(Model):
    @staticmethod
    def describe():
        return (
            ModelInfo("probe", "0.1.0")
            .task("private-lending-fraud", "case")
            .input(TableSpec("lending_cases").text(["case_no", "plaintiff_id"]).date(["filed_on"]).float64(["amount"]))
        )

    @staticmethod
    def run(ctx):
        frame = ctx.table("lending_cases").load(["case_no", "plaintiff_id", "filed_on", "amount"])
        case_no, plaintiff = frame.text("case_no"), frame.text("plaintiff_id")
        dates, amounts = frame.date("filed_on"), frame.float64("amount")
        for who, rows in ops.Index.build(plaintiff).groups():
            for row in rows:
                reason = f"{who} {dates.get(row)} {amounts.get(row)}"
                ctx.emit(Clue(case_no.get(row), 0.5, "probe", reason).evidence("lending_cases", [row]))
        ctx.emit(Clue(case_no.get(len(frame) - 1), 1.0, "last", str(plaintiff.get(len(frame) - 1))))


def clues(batch_rows):
    saved = context.LOAD_BATCH_ROWS
    context.LOAD_BATCH_ROWS = batch_rows
    try:
        return [(c.subject, c.rule, c.reason) for c in run(Everything, {"lending_cases": CASES}).clues]
    finally:
        context.LOAD_BATCH_ROWS = saved


def run_frame():
    """The lending_cases frame as a model sees it in a local run."""
    seen = []

    class Keep(Everything):
        @staticmethod
        def run(ctx):
            seen.append(ctx.table("lending_cases").load(["case_no", "plaintiff_id", "filed_on", "amount"]))

    run(Keep, {"lending_cases": CASES})
    return seen[0]


class ColumnsTest(unittest.TestCase):
    def test_batches_give_what_one_read_gives(self):
        whole = clues(1 << 20)
        self.assertEqual(len(whole), 23 - 6 + 1, "rows with a null plaintiff are in no group")
        for rows in (1, 2, 5, 7, 8, 22):
            self.assertEqual(clues(rows), whole, f"batches of {rows} rows")

    def test_groups_in_order_of_first_appearance(self):
        subjects = [s for s, rule, _ in clues(1 << 20) if rule == "probe"]
        self.assertTrue(subjects[0].endswith("民初1号"), subjects[:3])
        self.assertEqual(clues(1 << 20)[-1][2], "p1", "row 22 holds p1")

    def test_text_offsets_count_utf8_bytes(self):
        values = ["(2017)浙0102民初49号", "", "abc"]
        encoded = [v.encode() for v in values]
        offsets = [0]
        for b in encoded:
            offsets.append(offsets[-1] + len(b))
        strings = Strings(b"".join(encoded), memoryview(bytes(b"".join(o.to_bytes(4, "little") for o in offsets))).cast("I"))
        self.assertEqual([strings.value(i) for i in range(3)], values)
        joined = Strings.join([strings, Strings(b"xy", [0, 1, 2])])
        self.assertEqual([joined.value(i) for i in range(5)], values + ["x", "y"])

    def test_min_rows_keeps_only_large_groups(self):
        frame = run_frame()
        plaintiff = frame.text("plaintiff_id")
        every = ops.Index.build(plaintiff)
        self.assertEqual([who for who, _ in every.groups()], ["p1", "p2", "p0"])
        self.assertEqual(len(every.get("p2")), 5)
        big = ops.Index.build(plaintiff, min_rows=6)
        # Every fourth row is null: p1 (rows 1, 7, 10, 13, 19, 22) and p0 have six rows, p2 five.
        groups = [(who, list(rows)) for who, rows in big.groups()]
        self.assertEqual(groups[0], ("p1", [1, 7, 10, 13, 19, 22]))
        self.assertEqual([who for who, _ in groups], ["p1", "p0"])
        self.assertEqual(list(big.get("p2")), [], "a group under min_rows is not in the index")
        self.assertEqual(list(big.rows_of(plaintiff, 2)), [], "row 2 holds p2")
        self.assertEqual(list(big.rows_of(plaintiff, 21)), [3, 6, 9, 15, 18, 21])
        self.assertEqual(list(big.rows_of(plaintiff, 0)), [], "row 0 is null")
        self.assertEqual((big.group_of_row(plaintiff, 2), big.lookup(plaintiff)(21), big.key(1)), (-1, 1, "p0"))
        p1 = plaintiff.one_of(["p1"])
        self.assertEqual([p1(1), p1(2), p1(4)], [True, False, False])
        self.assertEqual(list(plaintiff.matches(["p1", "p0"]))[:5], [0, 1, 0, 1, 0])

    def test_a_bad_cell_names_file_line_and_column(self):
        with self.assertRaises(LocalError) as caught:
            run(Everything, {"lending_cases": CASES.replace("2020-01-03", "2020-13-03")})
        self.assertIn("line 4, column filed_on", str(caught.exception))

    def test_evidence_is_capped(self):
        clue = Clue("s", 0.5, "r").evidence("t", range(1000))
        self.assertEqual(len(clue.evidence_rows), 256)


if __name__ == "__main__":
    unittest.main()
