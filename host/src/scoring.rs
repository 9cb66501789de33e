//! Scoring clues against hidden labels: precision, recall, F1, F0.5, precision@k, average precision,
//! per-pattern recall.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sieve_sdk::Clue;

/// One labelled subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The id a clue must name.
    pub subject: String,
    /// The planted pattern it belongs to.
    pub pattern: String,
}

/// Scores of one set of clues.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// Read `labels.csv` (`subject`, `pattern`); errors name the file and line.
pub fn read_labels(path: &Path) -> Result<Vec<Label>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("{}: no {name:?} column", path.display()))
    };
    let (subject, pattern) = (col("subject")?, col("pattern").ok());
    let mut labels = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{} line {}: {e}", path.display(), i + 2))?;
        let s = record.get(subject).unwrap_or_default().trim();
        if s.is_empty() {
            return Err(format!("{} line {}: empty subject", path.display(), i + 2));
        }
        let p = pattern.and_then(|p| record.get(p)).unwrap_or_default().trim();
        labels.push(Label {
            subject: s.to_string(),
            pattern: if p.is_empty() { "-".into() } else { p.to_string() },
        });
    }
    Ok(labels)
}

/// Score `clues` against `labels` with review budget `k` (default: the number of labelled subjects).
/// A subject flagged several times counts once, at its highest score.
pub fn score(labels: &[Label], clues: &[Clue], k: Option<usize>) -> Scores {
    let truth: BTreeSet<&str> = labels.iter().map(|l| l.subject.as_str()).collect();
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for c in clues {
        let e = best.entry(c.subject.as_str()).or_insert(f64::NEG_INFINITY);
        *e = e.max(c.score);
    }
    let mut ranking: Vec<(&str, f64)> = best.into_iter().collect();
    // Highest score first; ties broken by subject so the ranking is reproducible.
    ranking.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));

    let labelled = truth.len();
    let flagged = ranking.len();
    let hits: Vec<bool> = ranking.iter().map(|(s, _)| truth.contains(s)).collect();
    let tp = hits.iter().filter(|h| **h).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, flagged);
    let recall = ratio(tp, labelled);
    let f_beta = |beta: f64| {
        let b2 = beta * beta;
        let d = b2 * precision + recall;
        if d == 0.0 { 0.0 } else { (1.0 + b2) * precision * recall / d }
    };
    let k = k.unwrap_or(labelled).max(1);
    let top = k.min(flagged);
    let precision_at_k = ratio(hits[..top].iter().filter(|h| **h).count(), top);
    let mut found = 0usize;
    let mut ap_sum = 0.0;
    for (i, hit) in hits.iter().enumerate() {
        if *hit {
            found += 1;
            ap_sum += found as f64 / (i + 1) as f64;
        }
    }
    let average_precision = if labelled == 0 { 0.0 } else { ap_sum / labelled as f64 };
    let flagged_set: BTreeSet<&str> = ranking.iter().map(|(s, _)| *s).collect();
    // A subject may carry several patterns (T4, T6): each (subject, pattern) counts for its pattern.
    let pairs: BTreeSet<(&str, &str)> =
        labels.iter().map(|l| (l.subject.as_str(), l.pattern.as_str())).collect();
    let mut per_pattern: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (subject, pattern) in &pairs {
        let e = per_pattern.entry(pattern.to_string()).or_default();
        e.1 += 1;
        if flagged_set.contains(subject) {
            e.0 += 1;
        }
    }
    Scores {
        flagged,
        labelled,
        true_positives: tp,
        precision,
        recall,
        f1: f_beta(1.0),
        f0_5: f_beta(0.5),
        k,
        precision_at_k,
        average_precision,
        per_pattern: per_pattern.into_iter().map(|(p, (f, n))| (p, ratio(f, n))).collect(),
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
    fn no_clues_scores_zero_without_dividing_by_zero() {
        let s = score(&[label("a", "x")], &[], None);
        assert_eq!(
            (s.precision, s.recall, s.f0_5, s.average_precision, s.precision_at_k),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
    }
}
