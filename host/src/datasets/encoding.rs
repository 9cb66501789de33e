//! Key domains encoded once, at import: one dictionary per domain of the task's contract, and
//! each domain column stored as codes into it. A run then reads numbers instead of hashing text
//! (the platform's workload is read-many: a dataset is imported once and run hundreds of times),
//! and a model built against `sieve:model@0.1.1` joins on those codes.
//!
//! A model sees only the columns it declared, and a dictionary is no exception: when a model
//! declares some of a domain's columns, the dictionary it gets is cut down to the values those
//! columns hold (array passes over the codes, nothing hashed).

use std::sync::Arc;

use sieve_sdk::data::{Bitmap, Column, Dictionary, Text, Values};

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

/// A domain's dictionary as it is built: the values in order of first appearance, and a table of
/// their codes keyed by the value's hash. The table holds bare 4-byte codes, not `(&str, u32)`
/// pairs: for a domain of a million distinct case numbers it is a sixth of the size, so more of
/// it stays in cache, and a value is compared (in the pool) only when its hash's tag matches.
struct Pool {
    values: Text,
    codes: hashbrown::HashTable<u32>,
}

fn hash(value: &str) -> u64 {
    use std::hash::{BuildHasher as _, BuildHasherDefault};
    BuildHasherDefault::<sieve_sdk::ops::FxHasher>::default().hash_one(value)
}

impl Pool {
    fn with_capacity(values: usize) -> Pool {
        Pool { values: Text::new(), codes: hashbrown::HashTable::with_capacity(values) }
    }

    /// `value`'s code, added to the pool if it is new.
    fn code(&mut self, value: &str) -> u32 {
        let h = hash(value);
        let values = &mut self.values;
        if let Some(&code) = self.codes.find(h, |&c| values.get(c as usize) == value) {
            return code;
        }
        let code = values.len() as u32;
        values.push(value);
        let values = &*values;
        self.codes.insert_unique(h, code, |&c| hash(values.get(c as usize)));
        code
    }

    /// Code `column` (text, or text coded against a dictionary of its own) into the pool. Only
    /// the values of rows that are not null enter it: a null row's placeholder is no value, and a
    /// model must not find it in a dictionary. A null row gets code 0.
    fn code_column(&mut self, column: &Column) -> Vec<u32> {
        match &column.values {
            Values::Text(text) => {
                (0..text.len()).map(|i| if column.is_valid(i) { self.code(text.get(i)) } else { 0 }).collect()
            }
            Values::Dictionary { indices, dictionary } => {
                // Each entry coded once, when a valid row first refers to it.
                let mut through: Vec<Option<u32>> = vec![None; dictionary.len()];
                (0..indices.len())
                    .map(|i| {
                        let k = indices[i] as usize;
                        match through.get_mut(k) {
                            Some(slot) if column.is_valid(i) => {
                                *slot.get_or_insert_with(|| self.code(dictionary.get(k)))
                            }
                            _ => 0,
                        }
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
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
    let mut pool = Pool::with_capacity(most);
    let codes = columns.iter().map(|c| pool.code_column(c)).collect();
    let mut dictionary = pool.values;
    if dictionary.is_empty() {
        dictionary.push("");
    }
    (dictionary, codes)
}

/// A key-domain column and its table's name. Shared, not copied: the same column is being
/// written to the table's Parquet file meanwhile.
pub type KeyColumn = (String, Arc<Column>);

/// Encode the key domains of `task` over `columns`: `(table, column)` pairs of the dataset's
/// domain columns with their values (every contract column of a domain, whatever a model will
/// declare). Domains are encoded in parallel, a thread each: each one hashes its millions of
/// values into a table of its own.
pub fn encode(task: &str, columns: &[KeyColumn]) -> Vec<EncodedDomain> {
    let domains: Vec<(&'static str, Vec<&KeyColumn>)> = contract::domains(task)
        .iter()
        .filter_map(|(name, members)| {
            let present: Vec<&KeyColumn> = columns
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
fn encode_domain(name: &'static str, present: &[&KeyColumn]) -> EncodedDomain {
    let values: Vec<&Column> = present.iter().map(|(_, c)| c.as_ref()).collect();
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
/// dictionary are refused, not served. `every_column`: the model declared every column the domain
/// was encoded from, whose values are the whole dictionary by construction, so nothing is cut
/// down and the pass that finds which entries are used is skipped.
pub fn serve(
    dictionary: Text,
    declared: Vec<DomainCodes>,
    every_column: bool,
) -> Result<Vec<Column>, CodeError> {
    serve_codes(dictionary.len(), declared, every_column, |_, used| {
        Arc::new(Dictionary::from(cut(dictionary, used.as_deref().map(Vec::as_slice))))
    })
}

/// Which entries of a domain's dictionary the declared columns use, one bit each; `None` when
/// they use them all (nothing is cut).
pub type UsedEntries = Option<Arc<Vec<u64>>>;

/// [`serve`] without the dictionary's text: only its `size` is needed to check the codes and
/// renumber them for the entries kept, so a stored run serves a domain's codes before its
/// dictionary is read. `dictionary(entries, used)` makes the dictionary the columns share:
/// `entries` kept, those `used` marks of the stored one (see [`cut`]).
pub fn serve_codes(
    size: usize,
    declared: Vec<DomainCodes>,
    every_column: bool,
    dictionary: impl FnOnce(usize, UsedEntries) -> Arc<Dictionary>,
) -> Result<Vec<Column>, CodeError> {
    if size == 0 {
        // Import always stores at least one entry (see [`pool`]): an empty one is malformed.
        let column = declared.first().map_or_else(String::new, |d| format!("{}.{}", d.table, d.column));
        return Err(CodeError { column, message: "its dictionary is empty".into() });
    }
    // Each column is checked, and the entries it uses marked, on a thread of its own: a domain
    // such as T1's `party` has six declared columns of up to a million codes, and this pass was
    // the longest step of loading after the reads.
    let marks: Vec<Result<Vec<u64>, CodeError>> = std::thread::scope(|scope| {
        let threads: Vec<_> =
            declared.iter().map(|d| scope.spawn(move || used_entries(d, size, !every_column))).collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    // Which entries the declared columns use, one bit each; if not all, keep only those, in their order.
    let mut used: Vec<u64> = if every_column { Vec::new() } else { vec![0; size.div_ceil(64)] };
    for mark in marks {
        used.iter_mut().zip(mark?).for_each(|(u, m)| *u |= m);
    }
    let in_use = used.iter().map(|w| w.count_ones() as usize).sum::<usize>();
    let mut columns: Vec<(Vec<u32>, Option<Bitmap>, String)> =
        declared.into_iter().map(|d| (d.codes, d.validity, d.column)).collect();
    let dictionary = if every_column || in_use == size {
        dictionary(size, None)
    } else {
        // A code's new number is how many used entries come before it.
        let mut renumber = vec![0u32; size];
        let mut kept = 0u32;
        for (c, slot) in renumber.iter_mut().enumerate() {
            *slot = kept;
            kept += u32::from(used[c / 64] & (1 << (c % 64)) != 0);
        }
        // Each column renumbered on a thread of its own, like the marking above.
        let renumber = &renumber;
        std::thread::scope(|scope| {
            for (codes, _, _) in &mut columns {
                scope.spawn(move || codes.iter_mut().for_each(|c| *c = renumber[*c as usize]));
            }
        });
        // Every declared row null: codes stay 0 and must still index something (see [`cut`]).
        dictionary(in_use.max(1), Some(Arc::new(used)))
    };
    Ok(columns
        .into_iter()
        .map(|(indices, validity, name)| Column {
            name,
            values: Values::Dictionary { indices, dictionary: dictionary.clone() },
            validity,
        })
        .collect())
}

/// The entries of `dictionary` that `used` marks, in their order (all of it when `None`); one
/// empty entry when none is marked, so that the codes of null rows still index something.
pub fn cut(dictionary: Text, used: Option<&[u64]>) -> Text {
    let Some(used) = used else { return dictionary };
    let is_used = |c: usize| used.get(c / 64).is_some_and(|w| w & (1 << (c % 64)) != 0);
    let size = dictionary.len();
    // `used` marks only codes below `size` (they were checked against it).
    let entries = used.iter().map(|w| w.count_ones() as usize).sum();
    let bytes: usize = (0..size).filter(|&c| is_used(c)).map(|c| dictionary.get(c).len()).sum();
    let mut kept = Text::new();
    kept.reserve(entries, bytes);
    for c in (0..size).filter(|&c| is_used(c)) {
        kept.push(dictionary.get(c));
    }
    if kept.is_empty() {
        kept.push("");
    }
    kept
}

/// Check that every code of `column` indexes a dictionary of `size` entries, and, when `mark`,
/// which entries its rows that are not null use: one bit each (empty when not `mark`).
fn used_entries(column: &DomainCodes, size: usize, mark: bool) -> Result<Vec<u64>, CodeError> {
    if column.codes.iter().any(|&c| c as usize >= size) {
        return Err(CodeError {
            column: format!("{}.{}", column.table, column.column),
            message: format!("a code outside 0..{size}"),
        });
    }
    if !mark {
        return Ok(Vec::new());
    }
    let mut used = vec![0u64; size.div_ceil(64)];
    for (i, &c) in column.codes.iter().enumerate() {
        if column.validity.as_ref().is_none_or(|v| v.is_valid(i)) {
            used[c as usize / 64] |= 1 << (c % 64);
        }
    }
    Ok(used)
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

    /// Codes follow first appearance across the columns; equal values share a code whether a
    /// column is plain text or coded against its own dictionary; nulls and unused dictionary
    /// entries never enter the pool; a pool of nothing holds one empty entry.
    #[test]
    fn a_pool_codes_values_in_order_of_first_appearance_across_columns() {
        let mut plain = text("a", &["x", "y", "", "x", "z"]);
        plain.validity = Some(Bitmap::from_flags([true, true, false, true, true]));
        let mut coded = Column::new(
            "b",
            Values::Dictionary {
                indices: vec![2, 0, 2, 1],
                dictionary: Arc::new(["unused-null", "y", "w"].into_iter().collect::<Text>().into()),
            },
        );
        coded.validity = Some(Bitmap::from_flags([true, false, true, true]));
        let (dictionary, codes) = pool(&[&plain, &coded]);
        let entries: Vec<&str> = (0..dictionary.len()).map(|k| dictionary.get(k)).collect();
        assert_eq!(entries, ["x", "y", "z", "w"]);
        assert_eq!(codes, [vec![0, 1, 0, 0, 2], vec![3, 0, 3, 1]]);
        // Many distinct values (the table sized up front, never rehashed): each its own code.
        let many: Vec<String> = (0..50_000).map(|i| format!("(2026)浙0102民初{i:05}号")).collect();
        let column = text(
            "c",
            &many.iter().map(String::as_str).chain(["(2026)浙0102民初00007号"]).collect::<Vec<_>>(),
        );
        let (dictionary, codes) = pool(&[&column]);
        assert_eq!(dictionary.len(), 50_000);
        assert_eq!(codes[0][50_000], 7, "a repeated value finds its first code");
        let mut none = text("d", &["", ""]);
        none.validity = Some(Bitmap::from_flags([false, false]));
        let (dictionary, codes) = pool(&[&none]);
        assert_eq!((dictionary.len(), dictionary.get(0)), (1, ""));
        assert_eq!(codes, [vec![0, 0]]);
    }

    #[test]
    fn a_model_gets_only_the_values_of_the_domain_columns_it_declared() {
        let mut owner = text("owner_id", &["p1", "p2", ""]);
        owner.validity = Some(Bitmap::from_flags([true, true, false]));
        let columns = vec![
            ("enforcement_cases".to_string(), Arc::new(text("debtor_id", &["p1", "secret"]))),
            ("registrations".to_string(), Arc::new(owner)),
            ("relations".to_string(), Arc::new(text("person_a", &["p2", "p3"]))),
            ("relations".to_string(), Arc::new(text("person_b", &["p4", "p1"]))),
        ];
        let encoded = encode("vehicle-enforcement", &columns);
        let party = encoded.iter().find(|d| d.name == "party").expect("party domain");
        assert_eq!(party.dictionary.len(), 5, "p1, secret, p2, p3, p4: a null row's placeholder is no value");
        assert_eq!(party.codes.len(), 4);

        // A model that declared owners and relations, not debtors: "secret" is not served.
        let declared: Vec<DomainCodes> =
            party.codes.iter().filter(|d| d.table != "enforcement_cases").cloned().collect();
        let served = serve(party.dictionary.clone(), declared, false).expect("serves");
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

        // Every column declared: the whole dictionary, found without the pass over the codes, and
        // the same values as the pass finds.
        for every_column in [true, false] {
            let all = serve(party.dictionary.clone(), party.codes.clone(), every_column).expect("serves");
            assert_eq!(shared(&all[0]).len(), 5, "every_column {every_column}");
            assert_eq!(decoded(&all[0]), [Some("p1".into()), Some("secret".into())]);
            assert_eq!(decoded(&all[1]), [Some("p1".into()), Some("p2".into()), None]);
        }

        // Codes outside the dictionary (a damaged store) are refused, whatever was declared.
        let bad = DomainCodes { table: "x".into(), column: "y".into(), codes: vec![0, 99], validity: None };
        for every_column in [true, false] {
            let refused =
                serve(party.dictionary.clone(), vec![bad.clone()], every_column).expect_err("refused");
            assert!(refused.to_string().contains("x.y"), "{refused}");
        }
    }

    #[test]
    fn a_cut_dictionary_keeps_entries_across_word_boundaries_and_an_empty_one_is_refused() {
        let dictionary: Text =
            (0..200).map(|i| format!("v{i}")).collect::<Vec<_>>().iter().map(String::as_str).collect();
        let coded = |column: &str, codes: Vec<u32>| DomainCodes {
            table: "t".into(),
            column: column.into(),
            codes,
            validity: None,
        };
        // Entries either side of the 64-entry words the used set is kept in, from two columns.
        let declared = vec![coded("a", vec![130, 63, 130]), coded("b", vec![64, 199, 0])];
        let served = serve(dictionary.clone(), declared, false).expect("serves");
        let Values::Dictionary { dictionary: kept, .. } = &served[0].values else { panic!("coded") };
        let entries: Vec<&str> = (0..kept.len()).map(|k| kept.get(k)).collect();
        assert_eq!(entries, ["v0", "v63", "v64", "v130", "v199"]);
        assert_eq!(decoded(&served[0]), [Some("v130".into()), Some("v63".into()), Some("v130".into())]);
        assert_eq!(decoded(&served[1]), [Some("v64".into()), Some("v199".into()), Some("v0".into())]);

        let refused = serve(Text::new(), vec![coded("a", vec![0])], false).expect_err("refused");
        assert!(refused.to_string().contains("t.a") && refused.to_string().contains("empty"), "{refused}");
    }
}
