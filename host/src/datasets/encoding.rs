//! Key domains encoded once, at import: one dictionary per domain of the task's contract, and
//! each domain column stored as codes into it. A run then reads numbers instead of hashing text
//! (the platform's workload is read-many: a dataset is imported once and run hundreds of times),
//! and a model built against `sieve:model@0.1.1` joins on those codes.
//!
//! A model sees only the columns it declared, and a dictionary is no exception: when a model
//! declares some of a domain's columns, the dictionary it gets is cut down to the values those
//! columns hold (array passes over the codes, nothing hashed).

use std::sync::Arc;

use sieve_sdk::data::{Bitmap, Column, Text, Values};
use sieve_sdk::ops::FastMap;

use super::contract;

/// A domain's stored dictionary and the stored codes of its columns, as import makes them.
#[derive(Debug)]
pub struct EncodedDomain {
    /// The domain's name in the contract.
    pub name: &'static str,
    /// Every distinct value of the domain's columns, in order of first appearance.
    pub dictionary: Text,
    /// Each column as codes into `dictionary`.
    pub codes: Vec<DomainCodes>,
}

/// One domain column as codes into its domain's dictionary.
#[derive(Debug, Clone)]
pub struct DomainCodes {
    /// Its table.
    pub table: String,
    /// The column.
    pub column: String,
    /// A code per row (a null row holds code 0 and keeps its validity bit off).
    pub codes: Vec<u32>,
    /// Which rows are not null (`None`: all of them).
    pub validity: Option<Bitmap>,
}

/// Code `column` (text, or text coded against a dictionary of its own) into `pool`. Only the
/// values of rows that are not null enter the pool: a null row's placeholder is no value, and a
/// model must not find it in a dictionary. A null row gets code 0.
fn code_into<'v>(column: &'v Column, code_of: &mut FastMap<&'v str, u32>, pool: &mut Text) -> Vec<u32> {
    let mut code = |value: &'v str| {
        let next = pool.len() as u32;
        *code_of.entry(value).or_insert_with(|| {
            pool.push(value);
            next
        })
    };
    match &column.values {
        Values::Text(text) => {
            (0..text.len()).map(|i| if column.is_valid(i) { code(text.get(i)) } else { 0 }).collect()
        }
        Values::Dictionary { indices, dictionary } => {
            // Each entry coded once, when a valid row first refers to it.
            let mut through: Vec<Option<u32>> = vec![None; dictionary.len()];
            (0..indices.len())
                .map(|i| {
                    let k = indices[i] as usize;
                    match through.get_mut(k) {
                        Some(slot) if column.is_valid(i) => {
                            *slot.get_or_insert_with(|| code(dictionary.get(k)))
                        }
                        _ => 0,
                    }
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// One dictionary for `columns` (text columns), and each one's codes into it. When every row is
/// null the dictionary holds one empty entry, so that code 0 still indexes something.
pub fn pool(columns: &[&Column]) -> (Text, Vec<Vec<u32>>) {
    // Sized for the most values there can be, so the table never rehashes as it grows.
    let most: usize = columns
        .iter()
        .map(|c| match &c.values {
            Values::Text(text) => text.len(),
            Values::Dictionary { dictionary, .. } => dictionary.len(),
            _ => 0,
        })
        .sum();
    let mut code_of: FastMap<&str, u32> = FastMap::with_capacity_and_hasher(most, Default::default());
    let mut dictionary = Text::new();
    let codes = columns.iter().map(|c| code_into(c, &mut code_of, &mut dictionary)).collect();
    if dictionary.is_empty() {
        dictionary.push("");
    }
    (dictionary, codes)
}

/// Encode the key domains of `task` over `columns`: `(table, column)` pairs of the dataset's
/// domain columns with their values (every contract column of a domain, whatever a model will
/// declare). Domains are encoded in parallel, a thread each: each one hashes its millions of
/// values into a table of its own.
pub fn encode(task: &str, columns: &[(String, Column)]) -> Vec<EncodedDomain> {
    let domains: Vec<(&'static str, Vec<&(String, Column)>)> = contract::domains(task)
        .iter()
        .filter_map(|(name, members)| {
            let present: Vec<&(String, Column)> = columns
                .iter()
                .filter(|(table, c)| members.contains(&(table.as_str(), c.name.as_str())))
                .collect();
            (!present.is_empty()).then_some((*name, present))
        })
        .collect();
    std::thread::scope(|scope| {
        let encoding: Vec<_> = domains
            .into_iter()
            .map(|(name, present)| scope.spawn(move || encode_domain(name, &present)))
            .collect();
        encoding
            .into_iter()
            .map(|e| e.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// One domain's dictionary over the columns `present`, and their codes into it.
fn encode_domain(name: &'static str, present: &[&(String, Column)]) -> EncodedDomain {
    let values: Vec<&Column> = present.iter().map(|(_, c)| c).collect();
    let (dictionary, codes) = pool(&values);
    let codes = present
        .iter()
        .zip(codes)
        .map(|((table, c), codes)| DomainCodes {
            table: table.clone(),
            column: c.name.clone(),
            codes,
            validity: c.validity.clone(),
        })
        .collect();
    EncodedDomain { name, dictionary, codes }
}

/// Why stored codes cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("stored codes of {column}: {message}")]
pub struct CodeError {
    /// `table.column`.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// Serve one domain to a model from its stored `dictionary` and the stored codes of the columns
/// the model declared: the dictionary cut down to the values those columns hold, when they do not
/// hold them all, and each column as `Values::Dictionary` sharing it. Codes outside the
/// dictionary are refused, not served.
pub fn serve(dictionary: Text, declared: Vec<DomainCodes>) -> Result<Vec<Column>, CodeError> {
    let size = dictionary.len();
    let mut columns: Vec<(Vec<u32>, Option<Bitmap>, String)> = Vec::with_capacity(declared.len());
    for d in declared {
        if d.codes.iter().any(|&c| c as usize >= size.max(1)) {
            return Err(CodeError {
                column: format!("{}.{}", d.table, d.column),
                message: format!("a code outside 0..{size}"),
            });
        }
        columns.push((d.codes, d.validity, d.column));
    }
    // Which entries the declared columns use; if not all, keep only those, in their order.
    let mut used = vec![false; size];
    for (codes, validity, _) in &columns {
        for (i, &c) in codes.iter().enumerate() {
            if validity.as_ref().is_none_or(|v| v.is_valid(i)) {
                used[c as usize] = true;
            }
        }
    }
    let dictionary = if used.iter().all(|&u| u) {
        dictionary
    } else {
        let mut renumber = vec![0u32; size];
        let mut kept = Text::new();
        for (c, _) in used.iter().enumerate().filter(|(_, u)| **u) {
            renumber[c] = kept.len() as u32;
            kept.push(dictionary.get(c));
        }
        if kept.is_empty() {
            // Every declared row is null: codes stay 0 and must still index something.
            kept.push("");
        }
        for (codes, _, _) in &mut columns {
            for c in codes.iter_mut() {
                *c = renumber[*c as usize];
            }
        }
        kept
    };
    let dictionary = Arc::new(dictionary);
    Ok(columns
        .into_iter()
        .map(|(indices, validity, name)| Column {
            name,
            values: Values::Dictionary { indices, dictionary: dictionary.clone() },
            validity,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, values: &[&str]) -> Column {
        Column::new(name, Values::Text(values.iter().copied().collect()))
    }

    fn decoded(c: &Column) -> Vec<Option<String>> {
        let Values::Dictionary { indices, dictionary } = &c.values else { panic!("not coded") };
        (0..indices.len())
            .map(|i| c.is_valid(i).then(|| dictionary.get(indices[i] as usize).to_string()))
            .collect()
    }

    #[test]
    fn a_model_gets_only_the_values_of_the_domain_columns_it_declared() {
        let mut owner = text("owner_id", &["p1", "p2", ""]);
        owner.validity = Some(Bitmap::from_flags([true, true, false]));
        let columns = vec![
            ("enforcement_cases".to_string(), text("debtor_id", &["p1", "secret"])),
            ("registrations".to_string(), owner),
            ("relations".to_string(), text("person_a", &["p2", "p3"])),
            ("relations".to_string(), text("person_b", &["p4", "p1"])),
        ];
        let encoded = encode("vehicle-enforcement", &columns);
        let party = encoded.iter().find(|d| d.name == "party").expect("party domain");
        assert_eq!(party.dictionary.len(), 5, "p1, secret, p2, p3, p4: a null row's placeholder is no value");
        assert_eq!(party.codes.len(), 4);

        // A model that declared owners and relations, not debtors: "secret" is not served.
        let declared: Vec<DomainCodes> =
            party.codes.iter().filter(|d| d.table != "enforcement_cases").cloned().collect();
        let served = serve(party.dictionary.clone(), declared).expect("serves");
        let Values::Dictionary { dictionary, .. } = &served[0].values else { panic!("coded") };
        let entries: Vec<&str> = (0..dictionary.len()).map(|k| dictionary.get(k)).collect();
        assert_eq!(entries, ["p1", "p2", "p3", "p4"], "only declared values, no null placeholder");
        assert_eq!(decoded(&served[0]), [Some("p1".into()), Some("p2".into()), None]);
        assert_eq!(decoded(&served[2]), [Some("p4".into()), Some("p1".into())]);
        let shared = |c: &Column| match &c.values {
            Values::Dictionary { dictionary, .. } => dictionary.clone(),
            _ => unreachable!(),
        };
        assert!(served.iter().all(|c| Arc::ptr_eq(&shared(c), &shared(&served[0]))), "one dictionary");

        // Codes outside the dictionary (a damaged store) are refused.
        let bad = DomainCodes { table: "x".into(), column: "y".into(), codes: vec![0, 99], validity: None };
        let refused = serve(party.dictionary.clone(), vec![bad]).expect_err("refused");
        assert!(refused.to_string().contains("x.y"), "{refused}");
    }
}
