//! The public/private split of a benchmark's subjects: every subject of the dataset (labelled or
//! not) goes to one side, decided by a seed alone, stratified by pattern so each pattern has
//! subjects on both sides. Stored as a blob; its digest is part of every score's provenance.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sieve_sdk::ops::FastMap;

use crate::scoring::Label;

/// Which part of the benchmark a subject belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Scored on the leaderboard while the competition is open.
    Public,
    /// Decides the final ranking; nobody but organizers and admins sees it before finalize.
    Private,
}

impl Side {
    /// The name shown and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Public => "public",
            Side::Private => "private",
        }
    }
}

/// Why subjects could not be split as asked.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SplitError {
    /// The fraction is not strictly between 0 and 1.
    #[error("the public fraction must lie strictly between 0 and 1, got {0}")]
    Fraction(f64),
    /// A pattern has too few subjects to appear on both sides.
    #[error(
        "pattern {pattern:?} has {subjects} labelled subject(s): at least 2 are needed to put it on both sides"
    )]
    TooFew {
        /// The pattern.
        pattern: String,
        /// Its labelled subjects.
        subjects: usize,
    },
    /// The stored split cannot be read.
    #[error("the stored split is malformed at line {0}")]
    Malformed(usize),
}

/// Every subject of a benchmark with its side.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    sides: FastMap<String, Side>,
}

/// The stratum a subject is drawn in: its patterns (sorted, joined), or none for an unlabelled one.
fn strata<'a>(subjects: &'a [String], labels: &'a [Label]) -> BTreeMap<String, Vec<&'a str>> {
    let mut patterns: FastMap<&str, Vec<&str>> = FastMap::default();
    for l in labels {
        patterns.entry(l.subject.as_str()).or_default().push(l.pattern.as_str());
    }
    let mut strata: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in subjects {
        let key = match patterns.get_mut(s.as_str()) {
            Some(p) => {
                p.sort_unstable();
                p.dedup();
                p.join("+")
            }
            None => String::new(),
        };
        strata.entry(key).or_default().push(s);
    }
    strata
}

/// A subject's place in the draw: the first 8 bytes of sha256(seed, subject). It depends on
/// nothing else (not the input order, not a library's hasher), so the split is reproducible.
fn draw(seed: u64, subject: &str) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(subject.as_bytes());
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

impl Split {
    /// Split `subjects` (distinct: the dataset's subject column) into public and private. In each
    /// stratum the subjects are ordered by their draw and the first `round(n x fraction)` are
    /// public, at least one and at most n - 1 when the stratum has two or more.
    pub fn new(subjects: &[String], labels: &[Label], fraction: f64, seed: u64) -> Result<Split, SplitError> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(SplitError::Fraction(fraction));
        }
        let mut sides = FastMap::with_capacity_and_hasher(subjects.len(), Default::default());
        for (_, mut members) in strata(subjects, labels) {
            members.sort_unstable_by_key(|s| (draw(seed, s), *s));
            let n = members.len();
            let public = if n >= 2 { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) } else { 0 };
            for (i, s) in members.into_iter().enumerate() {
                sides.insert(s.to_string(), if i < public { Side::Public } else { Side::Private });
            }
        }
        let split = Split { sides };
        split.check_patterns(labels)?;
        Ok(split)
    }

    /// Every labelled pattern must have subjects on both sides.
    fn check_patterns(&self, labels: &[Label]) -> Result<(), SplitError> {
        let mut seen: BTreeMap<&str, (usize, usize, Vec<&str>)> = BTreeMap::new();
        for l in labels {
            let e = seen.entry(l.pattern.as_str()).or_default();
            if e.2.contains(&l.subject.as_str()) {
                continue;
            }
            e.2.push(l.subject.as_str());
            match self.side(&l.subject) {
                Some(Side::Public) => e.0 += 1,
                Some(Side::Private) => e.1 += 1,
                None => {}
            }
        }
        match seen.into_iter().find(|(_, (p, q, _))| *p == 0 || *q == 0) {
            Some((pattern, (p, q, _))) => {
                Err(SplitError::TooFew { pattern: pattern.to_string(), subjects: p + q })
            }
            None => Ok(()),
        }
    }

    /// The side of `subject`, or `None` if the dataset has no such subject.
    pub fn side(&self, subject: &str) -> Option<Side> {
        self.sides.get(subject).copied()
    }

    /// Subjects on each side: (public, private).
    pub fn counts(&self) -> (usize, usize) {
        let public = self.sides.values().filter(|s| **s == Side::Public).count();
        (public, self.sides.len() - public)
    }

    /// The stored form: one `side<TAB>subject` line per subject, sorted by subject.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<(&str, Side)> = self.sides.iter().map(|(s, side)| (s.as_str(), *side)).collect();
        lines.sort_unstable();
        let mut out = String::with_capacity(lines.iter().map(|(s, _)| s.len() + 9).sum());
        for (subject, side) in lines {
            out.push_str(side.as_str());
            out.push('\t');
            out.push_str(subject);
            out.push('\n');
        }
        out
    }

    /// Read the stored form back.
    pub fn from_text(text: &str) -> Result<Split, SplitError> {
        let mut sides = FastMap::default();
        for (i, line) in text.lines().enumerate() {
            let side = match line.split_once('\t') {
                Some(("public", s)) => (s, Side::Public),
                Some(("private", s)) => (s, Side::Private),
                _ => return Err(SplitError::Malformed(i + 1)),
            };
            sides.insert(side.0.to_string(), side.1);
        }
        Ok(Split { sides })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str, p: &str) -> Label {
        Label { subject: s.into(), pattern: p.into() }
    }

    fn universe(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i:04}")).collect()
    }

    fn labels() -> Vec<Label> {
        let mut l: Vec<Label> = (0..40).map(|i| label(&format!("s{i:04}"), "a")).collect();
        l.extend((40..43).map(|i| label(&format!("s{i:04}"), "rare")));
        // s0050 carries both.
        l.push(label("s0050", "a"));
        l.push(label("s0050", "rare"));
        l
    }

    #[test]
    fn deterministic_disjoint_covering_and_stratified() {
        let subjects = universe(1000);
        let a = Split::new(&subjects, &labels(), 0.3, 7).expect("splits");
        let b = Split::new(&subjects.iter().rev().cloned().collect::<Vec<_>>(), &labels(), 0.3, 7)
            .expect("splits");
        assert_eq!(a, b, "the input order does not matter");
        assert_eq!(a.to_text(), b.to_text());
        // Every subject is on exactly one side (a map), and all of them are there.
        assert!(subjects.iter().all(|s| a.side(s).is_some()));
        assert_eq!(a.counts().0 + a.counts().1, 1000);
        // 30% of each stratum: 40 "a" subjects -> 12 public; the unlabelled 957 -> 287.
        let public_a = (0..40).filter(|i| a.side(&format!("s{i:04}")) == Some(Side::Public)).count();
        assert_eq!(public_a, 12);
        // The three "rare"-only subjects: round(0.9) = 1 public, 2 private.
        let public_rare = (40..43).filter(|i| a.side(&format!("s{i:04}")) == Some(Side::Public)).count();
        assert_eq!(public_rare, 1);
        let other = Split::new(&subjects, &labels(), 0.3, 8).expect("splits");
        assert_ne!(a, other, "another seed draws another split");
        assert_eq!(Split::from_text(&a.to_text()).expect("reads"), a);
        assert_eq!(a.side("nobody"), None);
    }

    #[test]
    fn a_pattern_with_one_subject_cannot_be_split() {
        let mut l = labels();
        l.push(label("s0100", "lonely"));
        let e = Split::new(&universe(200), &l, 0.3, 1).expect_err("refused");
        assert_eq!(e, SplitError::TooFew { pattern: "lonely".into(), subjects: 1 });
        assert_eq!(
            Split::new(&universe(10), &[], 1.0, 1).expect_err("bad fraction"),
            SplitError::Fraction(1.0)
        );
        assert!(Split::from_text("public\ta\nhalf\tb\n").is_err());
    }
}
