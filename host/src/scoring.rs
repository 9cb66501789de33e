//! Scoring clues against hidden labels: precision, recall, F1, F0.5, precision@k, average precision,
//! per-pattern recall.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sieve_sdk::Clue;
use sieve_sdk::ops::FastMap;

/// One labelled subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The id a clue must name.
    pub subject: String,
    /// The planted pattern it belongs to.
    pub pattern: String,
}

/// Scores of one set of clues.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Scores {
    /// Distinct subjects flagged.
    pub flagged: usize,
    /// Labelled subjects.
    pub labelled: usize,
    /// Flagged subjects that are labelled.
    pub true_positives: usize,
    /// TP / flagged (0 when nothing is flagged).
    pub precision: f64,
    /// TP / labelled.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// F-beta with beta = 0.5: precision weighs more, since each false clue costs a human check.
    pub f0_5: f64,
    /// The review budget used for precision@k.
    pub k: usize,
    /// Share of true subjects among the k highest-scored clues (or all, if fewer than k).
    pub precision_at_k: f64,
    /// Average precision over the clue ranking (labelled subjects never flagged count as misses).
    pub average_precision: f64,
    /// Recall per planted pattern.
    pub per_pattern: BTreeMap<String, f64>,
}

/// A metric a benchmark ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Metric {
    /// TP / flagged.
    Precision,
    /// TP / labelled.
    Recall,
    /// Harmonic mean of precision and recall.
    F1,
    /// F-beta with beta 0.5.
    F0_5,
    /// Precision among the review budget's highest-scored clues.
    PrecisionAtK,
    /// Average precision over the ranking.
    AveragePrecision,
}

impl Metric {
    /// Every metric, in the order ties are broken after the primary one: precision-weighted
    /// first (a false clue costs a prosecutor's time), then ranking quality, then recall.
    pub const ALL: [Metric; 6] = [
        Metric::F0_5,
        Metric::Precision,
        Metric::PrecisionAtK,
        Metric::AveragePrecision,
        Metric::F1,
        Metric::Recall,
    ];

    /// The name used on the command line and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::F0_5 => "f0_5",
            Metric::PrecisionAtK => "precision_at_k",
            Metric::AveragePrecision => "ap",
        }
    }

    /// Parse a stored or typed name; the error lists the known ones.
    pub fn parse(name: &str) -> Result<Metric, String> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name).ok_or_else(|| {
            let known: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
            format!("unknown metric {name:?} (known: {})", known.join(", "))
        })
    }

    /// `primary` first, then the others in [`Metric::ALL`]'s order: the leaderboard's comparison.
    pub fn tie_order(primary: Metric) -> Vec<Metric> {
        std::iter::once(primary).chain(Metric::ALL.into_iter().filter(|m| *m != primary)).collect()
    }
}

impl Scores {
    /// The value of `metric`.
    pub fn metric(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Precision => self.precision,
            Metric::Recall => self.recall,
            Metric::F1 => self.f1,
            Metric::F0_5 => self.f0_5,
            Metric::PrecisionAtK => self.precision_at_k,
            Metric::AveragePrecision => self.average_precision,
        }
    }
}

/// Read `labels.csv` (`subject`, `pattern`); errors name the file and line.
pub fn read_labels(path: &Path) -> Result<Vec<Label>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_labels(&bytes, &path.display().to_string())
}

/// Parse labels CSV (`subject`, optional `pattern`); errors name `source` and the line.
pub fn parse_labels(bytes: &[u8], source: &str) -> Result<Vec<Label>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().map_err(|e| format!("{source}: {e}"))?.clone();
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| format!("{source}: no {name:?} column"))
    };
    let (subject, pattern) = (col("subject")?, col("pattern").ok());
    let mut labels = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{source} line {}: {e}", i + 2))?;
        let s = record.get(subject).unwrap_or_default().trim();
        if s.is_empty() {
            return Err(format!("{source} line {}: empty subject", i + 2));
        }
        let p = pattern.and_then(|p| record.get(p)).unwrap_or_default().trim();
        labels.push(Label {
            subject: s.to_string(),
            pattern: if p.is_empty() { "-".into() } else { p.to_string() },
        });
    }
    Ok(labels)
}

/// The flagged subjects in review order, each marked true (labelled) or false: what every metric
/// is computed from. A subject flagged several times appears once, at its highest score.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking<'a> {
    /// `(subject, score, labelled)`, highest score first.
    pub entries: Vec<(&'a str, f64, bool)>,
    /// Distinct labelled subjects.
    pub labelled: usize,
}

impl<'a> Ranking<'a> {
    /// Rank `clues` against `labels`. Equal scores are ordered against the model: false subjects
    /// before true ones (then by subject, so the order is reproducible), so a model cannot gain
    /// precision@k or AP from ties, e.g. by giving every clue the same score.
    pub fn new(labels: &[Label], clues: &'a [Clue]) -> Ranking<'a> {
        Ranking::from_pairs(labels, clues.len(), clues.iter().map(|c| (c.subject.as_str(), c.score)))
    }

    /// Rank `(subject, score)` pairs (about `hint` of them) against `labels`, as [`Ranking::new`].
    pub fn from_pairs(
        labels: &[Label],
        hint: usize,
        pairs: impl Iterator<Item = (&'a str, f64)>,
    ) -> Ranking<'a> {
        let truth: FastMap<&str, ()> = labels.iter().map(|l| (l.subject.as_str(), ())).collect();
        let mut best: FastMap<&'a str, f64> = FastMap::with_capacity_and_hasher(hint, Default::default());
        for (subject, score) in pairs {
            let e = best.entry(subject).or_insert(f64::NEG_INFINITY);
            *e = e.max(score);
        }
        let mut entries: Vec<(&'a str, f64, bool)> =
            best.into_iter().map(|(s, score)| (s, score, truth.contains_key(s))).collect();
        entries.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then_with(|| a.0.cmp(b.0)));
        Ranking { entries, labelled: truth.len() }
    }
}

/// Precision and recall's F-beta (0 when both are 0).
pub fn f_beta(precision: f64, recall: f64, beta: f64) -> f64 {
    let b2 = beta * beta;
    let d = b2 * precision + recall;
    if d == 0.0 { 0.0 } else { (1.0 + b2) * precision * recall / d }
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Score `clues` against `labels` with review budget `k` (default: the number of labelled subjects).
/// A subject flagged several times counts once, at its highest score.
pub fn score(labels: &[Label], clues: &[Clue], k: Option<usize>) -> Scores {
    score_ranking(labels, &Ranking::new(labels, clues), k)
}

/// Score a ranking made from `labels` (see [`score`]).
pub fn score_ranking(labels: &[Label], ranking: &Ranking<'_>, k: Option<usize>) -> Scores {
    let labelled = ranking.labelled;
    let flagged = ranking.entries.len();
    let tp = ranking.entries.iter().filter(|e| e.2).count();
    let precision = ratio(tp as f64, flagged as f64);
    let recall = ratio(tp as f64, labelled as f64);
    let k = k.unwrap_or(labelled).max(1);
    let top = k.min(flagged);
    let precision_at_k = ratio(ranking.entries[..top].iter().filter(|e| e.2).count() as f64, top as f64);
    let mut found = 0usize;
    let mut ap_sum = 0.0;
    for (i, e) in ranking.entries.iter().enumerate() {
        if e.2 {
            found += 1;
            ap_sum += found as f64 / (i + 1) as f64;
        }
    }
    let average_precision = ratio(ap_sum, labelled as f64);
    // Only the true clues matter for recall: a set of them, not of every flagged subject.
    let found_set: FastMap<&str, ()> = ranking.entries.iter().filter(|e| e.2).map(|e| (e.0, ())).collect();
    // A subject may carry several patterns (T4, T6): each (subject, pattern) counts for its pattern.
    let pairs: BTreeSet<(&str, &str)> =
        labels.iter().map(|l| (l.subject.as_str(), l.pattern.as_str())).collect();
    let mut per_pattern: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (subject, pattern) in &pairs {
        let e = per_pattern.entry(pattern.to_string()).or_default();
        e.1 += 1;
        if found_set.contains_key(subject) {
            e.0 += 1;
        }
    }
    Scores {
        flagged,
        labelled,
        true_positives: tp,
        precision,
        recall,
        f1: f_beta(precision, recall, 1.0),
        f0_5: f_beta(precision, recall, 0.5),
        k,
        precision_at_k,
        average_precision,
        per_pattern: per_pattern.into_iter().map(|(p, (f, n))| (p, ratio(f as f64, n as f64))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str, p: &str) -> Label {
        Label { subject: s.into(), pattern: p.into() }
    }

    fn clue(s: &str, score: f64) -> Clue {
        Clue::new(s, score, "r", "")
    }

    #[test]
    fn hand_computed_case() {
        // Labels a, b, c, d (a, b pattern x; c, d pattern y). Ranking: a .9, e .8, b .7, c .6.
        let labels = [label("a", "x"), label("b", "x"), label("c", "y"), label("d", "y")];
        let clues = [clue("e", 0.8), clue("a", 0.9), clue("b", 0.7), clue("c", 0.6), clue("a", 0.1)];
        let s = score(&labels, &clues, Some(2));
        assert_eq!((s.flagged, s.labelled, s.true_positives), (4, 4, 3));
        assert!((s.precision - 0.75).abs() < 1e-12);
        assert!((s.recall - 0.75).abs() < 1e-12);
        assert!((s.f1 - 0.75).abs() < 1e-12);
        assert!((s.f0_5 - 0.75).abs() < 1e-12);
        assert!((s.precision_at_k - 0.5).abs() < 1e-12);
        // AP = (1/1 + 2/3 + 3/4) / 4
        assert!((s.average_precision - (1.0 + 2.0 / 3.0 + 0.75) / 4.0).abs() < 1e-12);
        assert_eq!(s.per_pattern["x"], 1.0);
        assert_eq!(s.per_pattern["y"], 0.5);
    }

    #[test]
    fn a_subject_with_two_patterns_counts_for_both() {
        // c carries x and y; d only y. Flagging c finds one of x's two and one of y's two.
        let labels = [label("a", "x"), label("c", "x"), label("c", "y"), label("d", "y")];
        let s = score(&labels, &[clue("c", 0.9)], None);
        assert_eq!((s.labelled, s.true_positives), (3, 1));
        assert_eq!(s.per_pattern["x"], 0.5);
        assert_eq!(s.per_pattern["y"], 0.5);
    }

    #[test]
    fn f_half_weighs_precision() {
        // Precision 1, recall 0.5: F1 = 2/3, F0.5 = 1.25 * 0.5 / (0.25 + 0.5) = 5/6.
        let labels = [label("a", "x"), label("b", "x")];
        let s = score(&labels, &[clue("a", 1.0)], None);
        assert!((s.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.f0_5 - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.k, 2);
        assert_eq!(s.precision_at_k, 1.0);
    }

    #[test]
    fn equal_scores_rank_false_clues_first() {
        // Every clue 0.5: the false ones (x, y) rank ahead of the true ones (a, b), so a model
        // gains nothing from ties. AP = (1/3 + 2/4) / 2; the top two hold no true clue.
        let labels = [label("a", "x"), label("b", "x")];
        let clues = [clue("a", 0.5), clue("x", 0.5), clue("b", 0.5), clue("y", 0.5)];
        let s = score(&labels, &clues, Some(2));
        assert_eq!((s.precision, s.recall, s.precision_at_k), (0.5, 1.0, 0.0));
        assert!((s.average_precision - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        // Only the tie is broken against the model: a higher true score still ranks first.
        let s = score(&labels, &[clue("a", 0.9), clue("x", 0.5)], Some(1));
        assert_eq!(s.precision_at_k, 1.0);
    }

    #[test]
    fn duplicates_count_once_at_their_best_score_and_unknown_subjects_are_false() {
        let labels = [label("a", "x"), label("b", "x")];
        let clues = [clue("a", 0.2), clue("a", 0.9), clue("a", 0.5), clue("nobody", 0.8)];
        let s = score(&labels, &clues, Some(1));
        assert_eq!((s.flagged, s.true_positives), (2, 1));
        assert_eq!((s.precision, s.recall, s.precision_at_k), (0.5, 0.5, 1.0));
        // a at 0.9 ranks first: AP = (1/1) / 2.
        assert_eq!(s.average_precision, 0.5);
    }

    #[test]
    fn metric_names_round_trip_and_tie_order_starts_with_the_primary() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Ok(m));
        }
        assert!(Metric::parse("accuracy").expect_err("unknown").contains("f0_5"));
        let order = Metric::tie_order(Metric::Recall);
        assert_eq!(order[0], Metric::Recall);
        assert_eq!(order.len(), Metric::ALL.len());
    }

    #[test]
    fn no_clues_scores_zero_without_dividing_by_zero() {
        assert_eq!(score(&[], &[], None).f0_5, 0.0);
        let s = score(&[label("a", "x")], &[], None);
        assert_eq!(
            (s.precision, s.recall, s.f0_5, s.average_precision, s.precision_at_k),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
    }
}
