//! T4 generator: online judicial auctions with planted violations of the auction provisions.
//!
//! Scale 1 is about 3,000 auctions and 10,000 bids. Planted (about 0.6% each, one violation per
//! item): `short_notice` (announced fewer than 15 days ahead, 30 for real estate),
//! `missing_docs` (a required document unpublished), `futile` (priority claims swallow the start
//! price), `related_buyer` (the buyer is kin, affiliate or legal representative of the debtor).
//! Near misses: notice of exactly the required days (30 for real estate, 15 otherwise) beside one
//! day short; buyers related to someone other than the debtor; priority claims that leave
//! something over, now and then a single cent, beside claims equal to the start price (futile);
//! first rounds priced at the valuation. Labels come from the definition ([`truth`]) on the
//! finished tables.

use std::collections::HashMap;

use sieve_sdk::data::{MS_PER_DAY, days_from_civil};

use super::Generated;
use super::courts::Courts;
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, float, int, related, rows, table, text};

const KINDS: [&str; 3] = ["movable", "real_estate", "equity"];
const RELATION_KINDS: [&str; 3] = ["kin", "affiliate", "legal_rep"];

/// Days of notice the provisions require for `kind`.
fn required_notice(kind: &str) -> i32 {
    if kind == "real_estate" { 30 } else { 15 }
}

/// Documents the announcement must carry for `kind` (DOMAIN.md): the valuation report and the tax
/// notice always, the pre-emption notice for real estate and equity.
fn required_docs(kind: &str) -> &'static [&'static str] {
    if matches!(kind, "real_estate" | "equity") {
        &["valuation_report", "preemption_notice", "tax_notice"]
    } else {
        &["valuation_report", "tax_notice"]
    }
}

/// Generate T4 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, "judicial-auction-violations");
    let mut ids = Ids::new(seed ^ 0x4444);
    let n = 3_000 * s;
    let first_day = days_from_civil(2019, 1, 1);
    let last_day = days_from_civil(2024, 10, 31);
    let mut courts = Courts::new(s, "执");
    let people: Vec<String> = (0..4_000 * s).map(|_| ids.person()).collect();

    let mut auctions = TableOut::contract("judicial-auction-violations", "auctions");
    let mut bids = TableOut::contract("judicial-auction-violations", "bids");
    let mut claims = TableOut::contract("judicial-auction-violations", "priority_claims");
    let mut relations = TableOut::contract("judicial-auction-violations", "relations");
    let relate = |a: &str, b: &str, rng: &mut Rng, relations: &mut TableOut| {
        let kind = *rng.pick(&RELATION_KINDS);
        // Relations are recorded in either direction.
        if rng.chance(0.5) {
            relations.push(&[Cell::Text(a), Cell::Text(b), Cell::Text(kind)]);
        } else {
            relations.push(&[Cell::Text(b), Cell::Text(a), Cell::Text(kind)]);
        }
    };

    for i in 0..n {
        let item = format!("JA{:08}", (i as u64 * 2_654_435_761 + seed) % 100_000_000);
        let kind = if rng.chance(0.5) {
            KINDS[0]
        } else if rng.chance(0.8) {
            KINDS[1]
        } else {
            KINDS[2]
        };
        let court = courts.sample(&mut rng);
        let announced = rng.range(first_day as i64, last_day as i64) as i32;
        let case_no = courts.case_no(court, announced - rng.range(60, 700) as i32, &mut rng);
        let debtor = ids.person();
        let round = if rng.chance(0.7) {
            1
        } else if rng.chance(0.85) {
            2
        } else {
            3
        };
        let valuation =
            (rng.lognormal(if kind == "real_estate" { 1_500_000.0 } else { 120_000.0 }, 0.8) * 100.0).round()
                / 100.0;
        let discount = match round {
            1 if rng.chance(0.3) => 1.0,
            1 => 0.7 + rng.f64() * 0.3,
            2 => 0.56 + rng.f64() * 0.2,
            _ => 0.45 + rng.f64() * 0.15,
        };
        let start_price = (valuation * discount * 100.0).round() / 100.0;

        // Which violation, if any: about 0.6% each.
        let violation = match rng.below(1000) {
            0..=5 => Some("short_notice"),
            6..=11 => Some("missing_docs"),
            12..=17 => Some("futile"),
            18..=23 => Some("related_buyer"),
            _ => None,
        };
        let required = required_notice(kind);
        let notice = match violation {
            // One day short now and then: 14 days for a movable, 29 for real estate.
            Some("short_notice") if rng.chance(0.3) => required - 1,
            Some("short_notice") => required - rng.range(1, 10) as i32,
            // Announced exactly the required days ahead is lawful: a near miss.
            _ if rng.chance(if kind == "real_estate" { 0.2 } else { 0.05 }) => required,
            _ => required + rng.range(0, 20) as i32,
        };
        let starts = announced + notice;
        let mut docs: Vec<&str> = required_docs(kind).to_vec();
        if violation == Some("missing_docs") {
            docs.remove(rng.below(docs.len()));
            if docs.is_empty() {
                docs.push("judgment_basis");
            }
        }
        if rng.chance(0.6) {
            docs.push("judgment_basis");
        }
        // A movable's pre-emption notice is optional: published now and then, never required.
        if kind == "movable" && rng.chance(0.3) {
            docs.push("preemption_notice");
        }
        rng.shuffle(&mut docs);

        // Priority claims: futile items are swallowed whole (claims equal to the start price
        // included); others leave something over, now and then a single cent.
        let claim_total = match violation {
            Some("futile") if rng.chance(0.2) => Some(start_price),
            Some("futile") => Some(start_price * (1.05 + rng.f64())),
            _ if rng.chance(0.01) => Some(start_price - 0.01),
            _ if rng.chance(0.3) => Some(start_price * (0.1 + rng.f64() * 0.6)),
            _ => None,
        };
        if let Some(total) = claim_total {
            // The boundary cases are one claim, so that no rounding of parts moves them.
            let exact = total == start_price || total == start_price - 0.01;
            let parts = if exact { 1 } else { rng.range(1, 3) };
            for _ in 0..parts {
                let amount = (total / parts as f64 * 100.0).round() / 100.0;
                claims.push(&[Cell::Text(&case_no), Cell::Text(&ids.org()), Cell::Float(amount)]);
            }
        }

        let min_bidders = if violation == Some("related_buyer") { 1 } else { 0 };
        let bidders: Vec<String> =
            (0..rng.range(min_bidders, 6)).map(|_| rng.pick(&people).clone()).collect();
        let sold = !bidders.is_empty() && (violation == Some("related_buyer") || rng.chance(0.8));
        let (buyer, sold_price) = if sold {
            (
                Some(bidders[rng.below(bidders.len())].clone()),
                Some((start_price * (1.0 + rng.f64() * 0.5) * 100.0).round() / 100.0),
            )
        } else {
            (None, None)
        };
        match (violation, &buyer) {
            (Some("related_buyer"), Some(b)) => relate(&debtor, b, &mut rng, &mut relations),
            // A buyer related to someone else entirely: a near miss.
            (_, Some(b)) if rng.chance(0.1) => {
                relate(rng.pick(&people).clone().as_str(), b, &mut rng, &mut relations)
            }
            _ => {}
        }
        if rng.chance(0.3) {
            relate(&debtor, &ids.person(), &mut rng, &mut relations);
        }
        let mut price = start_price;
        for (k, bidder) in bidders.iter().enumerate() {
            let at = (starts as i64) * MS_PER_DAY + 36_000_000 + (k as i64) * rng.range(60_000, 3_600_000);
            price = (price * (1.0 + rng.f64() * 0.05) * 100.0).round() / 100.0;
            bids.push(&[Cell::Text(&item), Cell::Text(bidder), Cell::Timestamp(at), Cell::Float(price)]);
        }
        let docs_text = docs.join(";");
        auctions.push(&[
            Cell::Text(&item),
            Cell::Text(courts.name(court)),
            Cell::Text(&case_no),
            Cell::Text(kind),
            if rng.chance(0.01) && violation.is_none() { Cell::Null } else { Cell::Date(announced) },
            Cell::Date(starts),
            Cell::Int(round),
            Cell::Float(valuation),
            Cell::Float(start_price),
            sold_price.map_or(Cell::Null, Cell::Float),
            buyer.as_deref().map_or(Cell::Null, Cell::Text),
            Cell::Int(bidders.len() as i64),
            Cell::Text(&debtor),
            if docs_text.is_empty() { Cell::Null } else { Cell::Text(&docs_text) },
        ]);
    }
    Generated { tables: vec![auctions, bids, claims, relations] }
}

/// The contract's true clues in finished T4 tables, decided from DOMAIN.md's definition alone: each
/// (item, violation) once; an item may break several rules.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let c = table(tables, "priority_claims");
    let (claim_case, claim_amount) = (column(c, "case_no"), column(c, "amount"));
    let mut claims: HashMap<&str, f64> = HashMap::new();
    for i in 0..rows(c) {
        if let (Some(case_no), Some(amount)) = (text(claim_case, i), float(claim_amount, i)) {
            *claims.entry(case_no).or_default() += amount;
        }
    }
    let related = related(tables);
    let a = table(tables, "auctions");
    let (item, case_no, kind) = (column(a, "item_id"), column(a, "case_no"), column(a, "kind"));
    let (announced, starts, price) =
        (column(a, "announced_on"), column(a, "starts_on"), column(a, "start_price"));
    let (buyer, debtor, docs) = (column(a, "buyer_id"), column(a, "debtor_id"), column(a, "docs_published"));
    let mut found = Vec::new();
    for i in 0..rows(a) {
        let Some(subject) = text(item, i) else { continue };
        let kind_here = text(kind, i).unwrap_or("");
        let mut hit = |pattern: &str| found.push((subject.to_string(), pattern.to_string()));
        if let (Some(from), Some(to)) = (int(announced, i), int(starts, i))
            && to - from < i64::from(required_notice(kind_here))
        {
            hit("short_notice");
        }
        let published: Vec<&str> =
            text(docs, i).map_or(Vec::new(), |d| d.split(';').map(str::trim).collect());
        if required_docs(kind_here).iter().any(|d| !published.contains(d)) {
            hit("missing_docs");
        }
        if let Some(p) = float(price, i)
            && p <= text(case_no, i).and_then(|c| claims.get(c)).copied().unwrap_or(0.0)
        {
            hit("futile");
        }
        if let (Some(b), Some(d)) = (text(buyer, i), text(debtor, i))
            && related.contains(&(b, d))
        {
            hit("related_buyer");
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        crate::generate::truth::check_fixture("judicial-auction-violations", super::truth);
    }
}
