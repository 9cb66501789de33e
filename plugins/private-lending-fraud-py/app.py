"""T2 `private-lending-fraud` in Python: professional lenders and false private-lending suits.

The same rule as the Rust model (plugins/private-lending-fraud), clue for clue: every suit of an
unlicensed plaintiff with at least `min-suits` suits, whose defendants were absent in more than
`absent-share` of them (where known), scored by the share withdrawn after filing and the share at
rates above `max-rate`. Build it with `sieve build plugins/private-lending-fraud-py`; try it on
CSV files with `python -m sieve_sdk.local app.py DATA_DIR`.
"""

from sieve_sdk import BadParam, Clue, Model, ModelInfo, TableSpec, ops
from sieve_sdk.guest import export


class PrivateLendingFraud(Model):
    @staticmethod
    def describe():
        return (
            ModelInfo("private-lending-fraud-py", "0.1.0")
            .summary(
                "Flags every suit of an unlicensed plaintiff with many private-lending suits won mostly by "
                "default, ranked by withdrawals after filing and rates above the legal cap. (Python.)"
            )
            .task("private-lending-fraud", "case")
            .input(
                TableSpec("lending_cases")
                .text(["case_no", "plaintiff_id", "outcome"])
                .boolean(["defendant_appeared", "plaintiff_licensed"])
                .float64(["annual_rate"])
            )
            .input(TableSpec("enforcement").text(["basis_case_no"]))
            .param_int("min-suits", 15, "Suits a plaintiff must have filed to be a professional lender.")
            .param_float(
                "absent-share",
                0.5,
                "Defendants must be absent in more than this share of a lender's suits (where known).",
            )
            .param_float("max-rate", 0.154, "Legal cap on the annual rate (four times the one-year LPR), for ranking.")
        )

    @staticmethod
    def run(ctx):
        min_suits = ctx.param("min-suits")
        absent_share = ctx.param("absent-share")
        max_rate = ctx.param("max-rate")
        if min_suits < 0:
            raise BadParam("min-suits must not be negative")

        cases = ctx.table("lending_cases").load(
            ["case_no", "plaintiff_id", "outcome", "defendant_appeared", "plaintiff_licensed", "annual_rate"]
        )
        enforcement = ctx.table("enforcement").load(["basis_case_no"])
        case_no, plaintiff, outcome = cases.text("case_no"), cases.text("plaintiff_id"), cases.text("outcome")
        appeared, licensed, rate = (
            cases.boolean("defendant_appeared"),
            cases.boolean("plaintiff_licensed"),
            cases.float64("annual_rate"),
        )
        enforced = ops.Index.build(enforcement.text("basis_case_no"))

        # Only the plaintiffs with enough suits: the host groups the column and keeps those groups.
        for who, rows in ops.Index.build(plaintiff, min_rows=min_suits).groups():
            n = len(rows)
            if any(licensed.get(r) is True for r in rows):
                continue
            absent = ops.share(rows, lambda r: None if appeared.get(r) is None else not appeared.get(r))
            if absent <= absent_share:
                continue
            withdrawn = ops.share(rows, lambda r: None if outcome.get(r) is None else outcome.get(r) == "withdrawn")
            usurious = ops.share(rows, lambda r: None if rate.get(r) is None else rate.get(r) > max_rate)
            score = 0.6 + 0.2 * withdrawn + 0.2 * usurious
            reason = (
                f"Unlicensed plaintiff {who} filed {n} private-lending suits: defendants absent in "
                f"{absent * 100.0:.0f}%, {withdrawn * 100.0:.0f}% withdrawn, "
                f"{usurious * 100.0:.0f}% at rates above {max_rate * 100.0:.1f}%."
            )
            for row in rows:
                subject = case_no.get(row)
                if subject is None:
                    continue
                clue = (
                    Clue(subject, score, "professional-lender", reason)
                    .evidence("lending_cases", [row])
                    .evidence("enforcement", enforced.rows_of(case_no, row))
                )
                ctx.emit(clue)


Model = export(PrivateLendingFraud)
