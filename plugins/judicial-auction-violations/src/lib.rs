//! T4 `judicial-auction-violations`: online judicial auctions that break the auction provisions.
//!
//! Each violation is its own rule, and an item can break several:
//!
//! | rule | fires when | score |
//! |---|---|---|
//! | `short_notice` | announced fewer than `movable-notice-days` (movables, equity) or `real-estate-notice-days` days before the start | 0.9 |
//! | `missing_docs` | a required document is not in `docs_published`: the valuation report and the tax notice for every kind, and the pre-emption notice for real estate and equity (a movable's is optional) | 0.85 |
//! | `futile` | priority claims on the case reach the start price, so the applicant cannot recover anything | 0.8 |
//! | `related_buyer` | the buyer is recorded as kin, affiliate or legal representative of the debtor | 0.9 |
//!
//! Unknown dates never fire a rule; a null document list published nothing, so it lacks every
//! required document.

use sieve_sdk::ops::{Index, Links};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// Documents an announcement can publish; a set of them is a bit mask over this list.
const DOCS: [&str; 3] = ["valuation_report", "preemption_notice", "tax_notice"];
/// Every kind needs the valuation report and the tax notice.
const MOVABLE_DOCS: u8 = 0b101;
/// Real estate and equity also need the pre-emption notice.
const PREEMPTIBLE_DOCS: u8 = 0b111;

/// The T4 model.
pub struct JudicialAuctionViolations;

/// A rule an item breaks, with the figures its clue quotes, before the clue's words are read.
enum Violation<'a> {
    ShortNotice {
        notice: i32,
        required: i32,
    },
    /// The required documents not published, as a mask over [`DOCS`].
    MissingDocs {
        missing: u8,
    },
    /// The priority claims on the item's case (rows of `priority_claims`).
    Futile {
        price: f64,
        total: f64,
        claims: &'a [u32],
    },
    /// The row of `relations` linking buyer and debtor.
    RelatedBuyer {
        relation: usize,
    },
}

impl Model for JudicialAuctionViolations {
    fn describe() -> ModelInfo {
        ModelInfo::new("judicial-auction-violations", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags online judicial auctions announced too late, without the required documents, whose \
                 price priority claims swallow, or sold to a relation of the debtor.",
            )
            .task("judicial-auction-violations", "auction-item")
            .input(
                TableSpec::new("auctions")
                    .text(&["item_id", "case_no", "kind", "buyer_id", "debtor_id", "docs_published"])
                    .date(&["announced_on", "starts_on"])
                    .float64(&["start_price"]),
            )
            .input(TableSpec::new("priority_claims").text(&["case_no"]).float64(&["amount"]))
            .input(TableSpec::new("relations").text(&["person_a", "person_b", "kind"]))
            .param_int("movable-notice-days", 15, "Days of notice required for movables and equity.")
            .param_int("real-estate-notice-days", 30, "Days of notice required for real estate.")
            .param_float(
                "futile-margin",
                1.0,
                "Priority claims at or above this multiple of the start price make the auction futile.",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let movable_days: i32 = ctx.param("movable-notice-days")?;
        let estate_days: i32 = ctx.param("real-estate-notice-days")?;
        let futile_margin: f64 = ctx.param("futile-margin")?;
        let a = ctx.table("auctions")?.load(&[
            "item_id",
            "case_no",
            "kind",
            "buyer_id",
            "debtor_id",
            "docs_published",
            "announced_on",
            "starts_on",
            "start_price",
        ])?;
        let pc = ctx.table("priority_claims")?.load(&["case_no", "amount"])?;
        let rel = ctx.table("relations")?.load(&["person_a", "person_b", "kind"])?;

        let (item, case_no, kind) = (a.text("item_id")?, a.text("case_no")?, a.text("kind")?);
        let (buyer, debtor, docs) = (a.text("buyer_id")?, a.text("debtor_id")?, a.text("docs_published")?);
        let (announced, starts, start_price) =
            (a.date("announced_on")?, a.date("starts_on")?, a.float64("start_price")?);

        // The same few document lists repeat across items: parse each distinct list once.
        let docs_present = docs.derive(|list| {
            list.split(';')
                .filter_map(|d| DOCS.iter().position(|&known| known == d.trim()))
                .fold(0u8, |m, b| m | 1 << b)
        });
        let claims_on = Index::build(&pc.text("case_no")?);
        let claim_amount = pc.float64("amount")?;
        let rkind = rel.text("kind")?;
        let relations = Links::build(&rel.text("person_a")?, &rel.text("person_b")?);

        // The rules, on codes and numbers; a clue's words (item, case, buyer, debtor) are read for
        // its row afterwards, so the run never copies those dictionaries whole.
        let mut found: Vec<(u32, Violation<'_>)> = Vec::new();
        for row in 0..a.len() {
            if item.key(row).is_none() {
                continue;
            }
            let kind_here = kind.get(row).unwrap_or("");
            let real_estate = kind_here == "real_estate";
            if let (Some(ann), Some(start)) = (announced.get(row), starts.get(row)) {
                let required = if real_estate { estate_days } else { movable_days };
                let notice = start - ann;
                if notice < required {
                    found.push((row as u32, Violation::ShortNotice { notice, required }));
                }
            }
            let published = docs_present.get(row).copied().unwrap_or(0);
            let required =
                if matches!(kind_here, "real_estate" | "equity") { PREEMPTIBLE_DOCS } else { MOVABLE_DOCS };
            if required & !published != 0 {
                found.push((row as u32, Violation::MissingDocs { missing: required & !published }));
            }
            if let (Some(case), Some(price)) = (case_no.key(row), start_price.get(row)) {
                let claims = claims_on.get(case);
                let total: f64 = claims.iter().filter_map(|&r| claim_amount.get(r as usize)).sum();
                // DOMAIN.md: futile when the start price does not exceed the claims' sum.
                if total >= price * futile_margin {
                    found.push((row as u32, Violation::Futile { price, total, claims }));
                }
            }
            if let (Some(b), Some(d)) = (buyer.key(row), debtor.key(row))
                && let Some(relation) = relations.between(b, d)
            {
                found.push((row as u32, Violation::RelatedBuyer { relation }));
            }
        }

        let rows: Vec<u32> = found.iter().map(|f| f.0).collect();
        let words = ctx.table("auctions")?.rows(&["item_id", "case_no", "buyer_id", "debtor_id"], &rows)?;
        let (items, cases) = (words.text("item_id")?, words.text("case_no")?);
        let (buyers, debtors) = (words.text("buyer_id")?, words.text("debtor_id")?);
        for (i, (row, violation)) in found.into_iter().enumerate() {
            let Some(subject) = items.get(i) else { continue };
            let kind_here = kind.get(row as usize).unwrap_or("");
            let item_row = row as usize;
            let clue = match violation {
                Violation::ShortNotice { notice, required } => Clue::new(
                    subject,
                    0.9,
                    "short_notice",
                    format!(
                        "Item {subject} ({kind_here}) was announced {notice} days before the auction; at least {required} are required."
                    ),
                )
                .evidence("auctions", [item_row]),
                Violation::MissingDocs { missing } => {
                    let missing: Vec<&str> = DOCS
                        .iter()
                        .enumerate()
                        .filter(|&(bit, _)| missing & (1 << bit) != 0)
                        .map(|(_, doc)| *doc)
                        .collect();
                    let reason = format!(
                        "Item {subject} ({kind_here}) was announced without: {}.",
                        missing.join(", ")
                    );
                    Clue::new(subject, 0.85, "missing_docs", reason).evidence("auctions", [item_row])
                }
                Violation::Futile { price, total, claims } => {
                    let case = cases.get(i).unwrap_or_default();
                    Clue::new(subject, 0.8, "futile", format!(
                        "Item {subject} starts at {price:.2} yuan but priority claims on case {case} total {total:.2}: the applicant cannot recover anything."
                    ))
                    .evidence("auctions", [item_row])
                    .evidence("priority_claims", claims.iter().map(|&r| r as usize))
                }
                Violation::RelatedBuyer { relation } => {
                    let (b, d) = (buyers.get(i).unwrap_or_default(), debtors.get(i).unwrap_or_default());
                    let reason = format!(
                        "Item {subject} was bought by {b}, recorded as {} of the debtor {d}.",
                        rkind.get(relation).unwrap_or("related")
                    );
                    Clue::new(subject, 0.9, "related_buyer", reason)
                        .evidence("auctions", [item_row])
                        .evidence("relations", [relation])
                }
            };
            ctx.emit(clue);
        }
        Ok(())
    }
}

export_model!(JudicialAuctionViolations);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    /// The hand-written fixture (tests/fixtures/judicial-auction-violations/README.md says what each
    /// item tests), also run through the real binary by the integration tests.
    const AUCTIONS: &str = include_str!("../../../tests/fixtures/judicial-auction-violations/auctions.csv");
    const CLAIMS: &str =
        include_str!("../../../tests/fixtures/judicial-auction-violations/priority_claims.csv");
    const RELATIONS: &str = include_str!("../../../tests/fixtures/judicial-auction-violations/relations.csv");

    fn run_fixture() -> native::NativeOutput {
        let info = JudicialAuctionViolations::describe();
        let data = Dataset::from_csv(
            &info,
            &[("auctions", AUCTIONS), ("priority_claims", CLAIMS), ("relations", RELATIONS)],
        )
        .expect("parses");
        native::run::<JudicialAuctionViolations>(&data, &[]).expect("runs")
    }

    #[test]
    fn each_violation_fires_its_own_rule_and_near_misses_do_not() {
        let out = run_fixture();
        let mut fired: Vec<(&str, &str)> =
            out.clues.iter().map(|c| (c.subject.as_str(), c.rule.as_str())).collect();
        fired.sort();
        assert_eq!(
            fired,
            [
                ("DOCS", "missing_docs"),
                ("EQUITY", "missing_docs"),
                ("EVEN", "futile"),
                ("FUTILE", "futile"),
                ("KIN", "related_buyer"),
                ("NOTAX", "missing_docs"),
                ("SHORT", "short_notice"),
                ("SHORT14", "short_notice"),
                // Nothing published is every required document missing.
                ("UNKNOWN", "missing_docs"),
            ]
        );
        let docs = out.clues.iter().find(|c| c.subject == "DOCS").expect("DOCS");
        assert!(docs.reason.contains("preemption_notice"), "{}", docs.reason);
    }

    /// A clue's words are read for its row after the rules: each quotes its own item, case, buyer
    /// and debtor, and cites its own rows.
    #[test]
    fn each_clue_quotes_and_cites_its_own_rows() {
        let out = run_fixture();
        let clue = |subject: &str, rule: &str| {
            let c = out.clues.iter().find(|c| c.subject == subject && c.rule == rule).expect("a clue");
            let cited: Vec<(&str, u64)> = c.evidence.iter().map(|e| (e.table.as_str(), e.row)).collect();
            (c.reason.as_str(), cited)
        };
        assert_eq!(
            clue("FUTILE", "futile"),
            (
                "Item FUTILE starts at 100.00 yuan but priority claims on case c4 total 105.00: the applicant cannot \
                 recover anything.",
                vec![("auctions", 3), ("priority_claims", 0), ("priority_claims", 1)]
            )
        );
        assert_eq!(
            clue("KIN", "related_buyer"),
            (
                "Item KIN was bought by b6, recorded as kin of the debtor d6.",
                vec![("auctions", 5), ("relations", 0)]
            )
        );
        assert_eq!(
            clue("UNKNOWN", "missing_docs"),
            (
                "Item UNKNOWN (real_estate) was announced without: valuation_report, preemption_notice, tax_notice.",
                vec![("auctions", 7)]
            )
        );
        assert_eq!(
            clue("SHORT14", "short_notice"),
            (
                "Item SHORT14 (movable) was announced 14 days before the auction; at least 15 are required.",
                vec![("auctions", 12)]
            )
        );
    }
}
