//! Bootstrap 95% intervals for a submission's scores, reproducible from a fixed seed.
//!
//! The bootstrap is the Poisson one: each subject is drawn a Poisson(1) number of times,
//! independently. Subjects neither flagged nor labelled change no metric, so only flagged and
//! labelled ones are drawn. For precision, recall, F1 and F0.5 only the counts of true, false and
//! missed subjects matter, and a sum of independent Poisson(1) draws is Poisson(count): each round
//! draws three numbers however many clues there are. Average precision and precision@k depend on
//! the order, so they weigh each subject of the ranking; the weight of a subject in a round comes
//! from a hash of the subject and the round, so two submissions on one benchmark are resampled
//! alike (paired), and the result does not depend on the order clues were emitted in.

use serde::Serialize;

use crate::scoring::{Metric, Ranking, f_beta, ratio};

/// Resampling rounds per interval.
pub const ROUNDS: usize = 1000;

/// A 95% interval (2.5th and 97.5th percentiles of the resampled metric).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether two intervals share any value: the leaderboard's statistical tie.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

/// splitmix64: a small, fixed generator (the interval must not change with a library's version).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a subject: fixed, so a subject's weights are the same on every host.
fn subject_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// ln(k!) (exact sum below 10, Stirling's series above).
fn ln_factorial(k: u64) -> f64 {
    if k < 10 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64 + 1.0;
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
        + 1.0 / (1260.0 * x.powi(5))
}

/// A Poisson(lambda) draw: inversion for small lambda, Hörmann's PTRS above 10.
fn poisson(lambda: f64, rng: &mut Rng) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 10.0 {
        let (mut x, mut p) = (0u64, (-lambda).exp());
        let (mut cumulative, u) = (p, rng.unit());
        while u > cumulative && x < 1000 {
            x += 1;
            p *= lambda / x as f64;
            cumulative += p;
        }
        return x;
    }
    let (slam, loglam) = (lambda.sqrt(), lambda.ln());
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.unit() - 0.5;
        let v = rng.unit();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln() <= -lambda + k * loglam - ln_factorial(k as u64)
        {
            return k as u64;
        }
    }
}

/// A Poisson(1) draw from a uniform value (inversion over the fixed table of its CDF).
fn poisson_one(u: f64) -> u64 {
    let mut p = (-1.0f64).exp();
    let (mut x, mut cumulative) = (0u64, p);
    while u > cumulative && x < 20 {
        x += 1;
        p /= x as f64;
        cumulative += p;
    }
    x
}

/// The 95% interval of `metric` for `ranking` (review budget `k`), from `ROUNDS` rounds seeded by `seed`.
pub fn interval(ranking: &Ranking<'_>, metric: Metric, k: usize, seed: u64) -> Interval {
    let mut values: Vec<f64> = match metric {
        Metric::AveragePrecision | Metric::PrecisionAtK => weighted_rounds(ranking, metric, k, seed),
        _ => count_rounds(ranking, metric, seed),
    };
    values.sort_unstable_by(f64::total_cmp);
    let low = values[(ROUNDS as f64 * 0.025).floor() as usize];
    let high = values[((ROUNDS as f64 * 0.975).ceil() as usize).min(ROUNDS) - 1];
    Interval { low, high }
}

fn count_rounds(ranking: &Ranking<'_>, metric: Metric, seed: u64) -> Vec<f64> {
    let tp = ranking.entries.iter().filter(|e| e.2).count() as f64;
    let fp = ranking.entries.len() as f64 - tp;
    let missed = ranking.labelled as f64 - tp;
    let mut rng = Rng(mix(seed ^ 0x5EED));
    (0..ROUNDS)
        .map(|_| {
            let t = poisson(tp, &mut rng) as f64;
            let f = poisson(fp, &mut rng) as f64;
            let m = poisson(missed, &mut rng) as f64;
            let (p, r) = (ratio(t, t + f), ratio(t, t + m));
            match metric {
                Metric::Precision => p,
                Metric::Recall => r,
                Metric::F1 => f_beta(p, r, 1.0),
                _ => f_beta(p, r, 0.5),
            }
        })
        .collect()
}

fn weighted_rounds(ranking: &Ranking<'_>, metric: Metric, k: usize, seed: u64) -> Vec<f64> {
    let hashes: Vec<u64> = ranking.entries.iter().map(|e| subject_hash(e.0)).collect();
    let tp = ranking.entries.iter().filter(|e| e.2).count();
    let missed = ranking.labelled - tp.min(ranking.labelled);
    let mut rng = Rng(mix(seed ^ 0xA11CE));
    (0..ROUNDS as u64)
        .map(|round| {
            let round_key = mix(seed ^ mix(round));
            let weight = |h: u64| poisson_one((mix(h ^ round_key) >> 11) as f64 / (1u64 << 53) as f64);
            // Labelled subjects never flagged only enlarge the denominator of AP.
            let missed_weight = poisson(missed as f64, &mut rng);
            let (mut seen, mut hits, mut sum) = (0u64, 0u64, 0.0);
            for (entry, &h) in ranking.entries.iter().zip(&hashes) {
                let w = weight(h);
                if metric == Metric::PrecisionAtK {
                    let take = w.min((k as u64).saturating_sub(seen));
                    seen += take;
                    hits += if entry.2 { take } else { 0 };
                    if seen >= k as u64 {
                        break;
                    }
                    continue;
                }
                for _ in 0..w {
                    seen += 1;
                    if entry.2 {
                        hits += 1;
                        sum += hits as f64 / seen as f64;
                    }
                }
            }
            match metric {
                Metric::PrecisionAtK => ratio(hits as f64, seen as f64),
                _ => ratio(sum, (hits + missed_weight) as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::{Label, Ranking};
    use sieve_sdk::Clue;

    fn case(true_flagged: usize, false_flagged: usize, labelled: usize) -> (Vec<Label>, Vec<Clue>) {
        let labels = (0..labelled).map(|i| Label { subject: format!("t{i}"), pattern: "p".into() }).collect();
        let mut clues: Vec<Clue> =
            (0..true_flagged).map(|i| Clue::new(format!("t{i}"), 0.9, "r", "")).collect();
        clues.extend((0..false_flagged).map(|i| Clue::new(format!("f{i}"), 0.8, "r", "")));
        (labels, clues)
    }

    #[test]
    fn poisson_draws_have_the_right_mean() {
        let mut rng = Rng(1);
        for lambda in [0.5, 3.0, 12.0, 400.0, 250_000.0] {
            let n = 4000;
            let mean = (0..n).map(|_| poisson(lambda, &mut rng) as f64).sum::<f64>() / n as f64;
            assert!(
                (mean - lambda).abs() < 4.0 * (lambda / n as f64).sqrt() + 0.01,
                "lambda {lambda}: {mean}"
            );
        }
        let n = 20_000;
        let mean = (0..n).map(|i| poisson_one(((i as f64) + 0.5) / n as f64) as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
    }

    #[test]
    fn intervals_are_reproducible_and_hold_the_score() {
        let (labels, clues) = case(80, 20, 100);
        let ranking = Ranking::new(&labels, &clues);
        for metric in [Metric::F0_5, Metric::Precision, Metric::AveragePrecision, Metric::PrecisionAtK] {
            let a = interval(&ranking, metric, 50, 3);
            assert_eq!(a, interval(&ranking, metric, 50, 3), "{metric:?}: same seed, same interval");
            let point = crate::scoring::score(&labels, &clues, Some(50)).metric(metric);
            assert!(a.low <= point && point <= a.high, "{metric:?}: {a:?} holds {point}");
            assert!(a.low < a.high || metric == Metric::PrecisionAtK, "{metric:?}: {a:?} has width");
        }
    }

    #[test]
    fn a_strong_model_and_a_weak_one_are_told_apart() {
        let (labels, strong) = case(950, 30, 1000);
        let (_, weak) = case(600, 400, 1000);
        let (s, w) = (Ranking::new(&labels, &strong), Ranking::new(&labels, &weak));
        let (si, wi) = (interval(&s, Metric::F0_5, 100, 1), interval(&w, Metric::F0_5, 100, 1));
        assert!(!si.overlaps(&wi), "{si:?} vs {wi:?}");
        // The same model resampled under another seed: its intervals overlap.
        assert!(si.overlaps(&interval(&s, Metric::F0_5, 100, 2)));
    }
}
