//! T4 generator: online judicial auctions with planted violations of the auction provisions.
//!
//! Scale 1 is about 3,000 auctions and 10,000 bids. Planted (about 0.6% each, one violation per
//! item): `short_notice` (announced fewer than 15 days ahead, 30 for real estate),
//! `missing_docs` (a required document unpublished), `futile` (priority claims swallow the start
//! price), `related_buyer` (the buyer is kin, affiliate or legal representative of the debtor).
//! Near misses: real estate announced exactly 30 days ahead; buyers related to someone other than
//! the debtor; priority claims that leave something over; first rounds priced at the valuation.

use sieve_sdk::data::{MS_PER_DAY, days_from_civil};

use super::Generated;
use super::courts::Courts;
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};

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
    let mut labels = Vec::new();
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
            Some("short_notice") => required - rng.range(1, 10) as i32,
            // Real estate announced exactly 30 days ahead is lawful: a near miss.
            _ if kind == "real_estate" && rng.chance(0.2) => required,
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

        // Priority claims: futile items are swallowed whole; others leave something over.
        let claim_total = match violation {
            Some("futile") => Some(start_price * (1.05 + rng.f64())),
            _ if rng.chance(0.3) => Some(start_price * (0.1 + rng.f64() * 0.6)),
            _ => None,
        };
        if let Some(total) = claim_total {
            let parts = rng.range(1, 3);
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
        if let Some(pattern) = violation {
            labels.push((item.clone(), pattern.to_string()));
        }
    }
    Generated { tables: vec![auctions, bids, claims, relations], labels }
}
