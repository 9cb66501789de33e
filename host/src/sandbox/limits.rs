//! Resource limits of one run, with their documented defaults and the range each may take.
//!
//! The defaults come from the bundled models' measured needs on the largest generated datasets
//! (scale 100, about a million rows per table; BENCHMARKS.md), with a margin of about 3x, so a
//! runaway model stops within seconds rather than minutes.

use std::time::Duration;

/// What one run may consume. Every limit is enforced by the host, not trusted to the guest.
/// One budget covers the whole run: instantiation, `describe()` and `run()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Fuel (about one unit per WebAssembly instruction, plus the host's work on the guest's
    /// behalf); `None` turns the budget off, leaving the deadline as the only bound on time.
    pub fuel: Option<u64>,
    /// Fuel granted per row of the tables the model declared: a run's budget is the larger of
    /// `fuel` and this times those rows. An interpreted model burns far more fuel per row than a
    /// compiled one (Python about 40x Rust's on T2, JavaScript more), so a fixed budget sized
    /// for Rust would stop it on a large dataset where its deadline and memory let it finish.
    /// 0 when the budget was set explicitly (`--fuel`): then it is exactly that.
    pub fuel_per_row: u64,
    /// The most a budget grown per row may reach: the registry's run policy, when an admin set
    /// one (`sieve policy set --fuel`); `None`: no ceiling beyond the rows.
    pub fuel_ceiling: Option<u64>,
    /// Wall-clock deadline for the guest, enforced with epochs.
    pub deadline: Duration,
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Host memory the host may hold on the guest's behalf (kept clues and logs, plus the batch
    /// being built), in bytes.
    pub host_memory_bytes: usize,
    /// Clues a run may emit.
    pub max_clues: usize,
    /// Bytes of clue text (subjects, rules, reasons, evidence) a run may emit.
    pub max_output_bytes: usize,
    /// Bytes of `log` lines a run may write (each line counts a fixed overhead besides its text).
    pub max_log_bytes: usize,
    /// Bytes each of stdout and stderr may take; writing more is an `output-limit`.
    pub max_stdio_bytes: usize,
}

/// The measured needs behind the defaults: the most any bundled model took at scale 100.
pub mod measured {
    /// Fuel of the hungriest bundled model, host work included (vehicle-insurance-fraud, 8.6e9).
    pub const FUEL: u64 = 8_600_000_000;
    /// Peak linear memory (false-mediation-confirmation, 272 MiB).
    pub const MEMORY_BYTES: usize = 272 << 20;
    /// Peak host memory held for a model (false-mediation-confirmation, 90 MiB).
    pub const HOST_MEMORY_BYTES: usize = 90 << 20;
    /// Wall time in the guest on this project's 2-core machine (2.4 s).
    pub const WALL_SECONDS: u64 = 3;
    /// Clues emitted (private-lending-fraud, 20,074).
    pub const CLUES: usize = 20_074;
    /// Fuel per row of the hungriest interpreted model: T2 in Python, 2.58e10 over 1,223,566
    /// rows at scale 100 (componentize-py 0.25).
    pub const INTERPRETED_FUEL_PER_ROW: u64 = 21_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Some(measured::FUEL * 3),
            // Ten times Python's need leaves room for JavaScript (3-4x Python's fuel) and margin.
            fuel_per_row: measured::INTERPRETED_FUEL_PER_ROW * 10,
            fuel_ceiling: None,
            // Time is the backstop for what fuel does not count; generous for slower machines.
            deadline: Duration::from_secs(measured::WALL_SECONDS * 20),
            memory_bytes: 1 << 30,
            host_memory_bytes: 512 << 20,
            max_clues: 200_000,
            max_output_bytes: 128 << 20,
            max_log_bytes: 1 << 20,
            max_stdio_bytes: 64 << 10,
        }
    }
}

/// The budget of `describe()` (and of instantiation before it), whether called alone (inspect,
/// publish, vetting) or at the start of a run: describing a model must be cheap.
pub const DESCRIBE_FUEL: u64 = 1_000_000_000;
/// See [`DESCRIBE_FUEL`].
pub const DESCRIBE_DEADLINE: Duration = Duration::from_secs(1);
/// See [`DESCRIBE_FUEL`]. Room for a language runtime's heap (Python, JavaScript) at start-up.
pub const DESCRIBE_MEMORY_BYTES: usize = 128 << 20;

impl Limits {
    /// The fuel budget of a run over `rows` rows of declared tables (see [`Limits::fuel_per_row`]),
    /// grown no further than [`Limits::fuel_ceiling`].
    pub fn fuel_for_rows(&self, rows: u64) -> Option<u64> {
        self.fuel.map(|fuel| {
            let grown = fuel.max(self.fuel_per_row.saturating_mul(rows));
            self.fuel_ceiling.map_or(grown, |ceiling| grown.min(ceiling.max(fuel)))
        })
    }

    /// The limits for a `describe()` call alone.
    pub fn describe() -> Limits {
        Limits {
            fuel: Some(DESCRIBE_FUEL),
            fuel_per_row: 0,
            fuel_ceiling: None,
            deadline: DESCRIBE_DEADLINE,
            memory_bytes: DESCRIBE_MEMORY_BYTES,
            ..Limits::default()
        }
    }
}

/// One limit's accepted range, as the command line and the API check it.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The flag that sets it.
    pub flag: &'static str,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Unit, for messages.
    pub unit: &'static str,
}

/// A limit outside its range.
#[derive(Debug, thiserror::Error)]
#[error("{flag} must be {what}, got {given}")]
pub struct LimitError {
    /// The flag.
    pub flag: &'static str,
    /// The accepted range, in words.
    pub what: String,
    /// The value given.
    pub given: String,
}

impl Range {
    /// Check `value` (as given, for the message) against the range.
    pub fn check(&self, value: f64, given: &str) -> Result<f64, LimitError> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            return Ok(value);
        }
        Err(LimitError {
            flag: self.flag,
            what: format!("between {} and {} {}", self.min, self.max, self.unit),
            given: given.to_string(),
        })
    }
}

/// `--fuel`: 0 turns fuel off; otherwise from a million (a model that cannot even start) to
/// ten trillion (over an hour of computation).
pub const FUEL_RANGE: Range =
    Range { flag: "--fuel", min: 1e6, max: 1e13, unit: "units (or 0 for no fuel limit)" };
/// `--deadline`: from 10 ms to one day.
pub const DEADLINE_RANGE: Range = Range { flag: "--deadline", min: 0.01, max: 86_400.0, unit: "seconds" };
/// `--memory-mib`: 32-bit WebAssembly cannot address more than 4 GiB.
pub const MEMORY_RANGE: Range = Range { flag: "--memory-mib", min: 1.0, max: 4096.0, unit: "MiB" };
/// `--max-host-mib`.
pub const HOST_MEMORY_RANGE: Range = Range { flag: "--max-host-mib", min: 1.0, max: 65_536.0, unit: "MiB" };
/// `--max-clues`.
pub const CLUES_RANGE: Range = Range { flag: "--max-clues", min: 0.0, max: 100_000_000.0, unit: "clues" };
/// `--max-output-bytes`.
pub const OUTPUT_RANGE: Range =
    Range { flag: "--max-output-bytes", min: 0.0, max: (16u64 << 30) as f64, unit: "bytes" };
/// `--max-log-bytes`.
pub const LOG_RANGE: Range =
    Range { flag: "--max-log-bytes", min: 0.0, max: (1u64 << 30) as f64, unit: "bytes" };

/// Epoch ticks per second; the deadline is counted in ticks.
pub const EPOCH_TICKS_PER_SECOND: u64 = 100;

/// Epoch ticks for `deadline` (at least one); the ranges above keep this far from overflowing.
pub fn deadline_ticks(deadline: Duration) -> u64 {
    let ticks = deadline.as_millis().saturating_mul(EPOCH_TICKS_PER_SECOND as u128).div_ceil(1000);
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// Limits a request asks for, each optional (the base keeps the rest), in the units of the
/// command line's flags. `fuel: 0` turns the fuel budget off.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Fuel budget (1e6 to 1e13, or 0 for none).
    pub fuel: Option<f64>,
    /// Wall-clock deadline in seconds (0.01 to 86400).
    pub deadline: Option<f64>,
    /// Linear memory in MiB (1 to 4096).
    pub memory_mib: Option<f64>,
    /// Host memory held for the model, in MiB.
    pub max_host_mib: Option<f64>,
    /// Most clues.
    pub max_clues: Option<f64>,
    /// Most bytes of clue text.
    pub max_output_bytes: Option<f64>,
    /// Most bytes of log lines.
    pub max_log_bytes: Option<f64>,
}

impl Overrides {
    /// `base` with these overrides, each checked against its range (the error names the flag).
    pub fn apply(&self, base: &Limits) -> Result<Limits, LimitError> {
        let whole = |r: Range, v: f64| -> Result<f64, LimitError> {
            let v = r.check(v, &format!("{v:?}"))?;
            if v.fract() != 0.0 {
                return Err(LimitError { flag: r.flag, what: "a whole number".into(), given: v.to_string() });
            }
            Ok(v)
        };
        let size = |r: Range, v: Option<f64>, base: usize, shift: u32| -> Result<usize, LimitError> {
            Ok(match v {
                Some(v) => (whole(r, v)? as usize) << shift,
                None => base,
            })
        };
        let (fuel, fuel_per_row) = match self.fuel {
            None => (base.fuel, base.fuel_per_row),
            Some(0.0) => (None, 0),
            Some(f) => (Some(whole(FUEL_RANGE, f)? as u64), 0),
        };
        let deadline = match self.deadline {
            None => base.deadline,
            Some(d) => Duration::from_secs_f64(DEADLINE_RANGE.check(d, &format!("{d:?}"))?),
        };
        Ok(Limits {
            fuel,
            fuel_per_row,
            deadline,
            memory_bytes: size(MEMORY_RANGE, self.memory_mib, base.memory_bytes, 20)?,
            host_memory_bytes: size(HOST_MEMORY_RANGE, self.max_host_mib, base.host_memory_bytes, 20)?,
            max_clues: size(CLUES_RANGE, self.max_clues, base.max_clues, 0)?,
            max_output_bytes: size(OUTPUT_RANGE, self.max_output_bytes, base.max_output_bytes, 0)?,
            max_log_bytes: size(LOG_RANGE, self.max_log_bytes, base.max_log_bytes, 0)?,
            ..base.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_grows_with_the_rows_and_an_explicit_one_does_not() {
        let base = Limits::default();
        let fixed = base.fuel.expect("a default budget");
        assert_eq!(base.fuel_for_rows(1_000), Some(fixed), "small data: the fixed budget");
        let rows = 2 * fixed / base.fuel_per_row;
        assert_eq!(base.fuel_for_rows(rows), Some(base.fuel_per_row * rows), "large data: per row");
        let explicit = Overrides { fuel: Some(1e9), ..Overrides::default() }.apply(&base).expect("valid");
        assert_eq!(explicit.fuel_for_rows(rows), Some(1_000_000_000), "--fuel is exact");
        let off = Overrides { fuel: Some(0.0), ..Overrides::default() }.apply(&base).expect("valid");
        assert_eq!(off.fuel_for_rows(rows), None);
        let other = Overrides { deadline: Some(5.0), ..Overrides::default() }.apply(&base).expect("valid");
        assert_eq!(other.fuel_per_row, base.fuel_per_row, "other flags keep the per-row grant");
        let capped = Limits { fuel_ceiling: Some(fixed * 2), ..base.clone() };
        assert_eq!(capped.fuel_for_rows(rows * 10), Some(fixed * 2), "a policy's ceiling caps the growth");
        assert_eq!(capped.fuel_for_rows(1_000), Some(fixed), "and lowers nothing");
    }
}
