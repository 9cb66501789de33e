//! Resource limits of one run, with their documented defaults.

use std::time::Duration;

/// What one run may consume. Every limit is enforced by the host, not trusted to the guest.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Fuel (about one unit per WebAssembly instruction); `None` turns the budget off, leaving
    /// the deadline as the only bound on time. Default: 200 billion.
    pub fuel: Option<u64>,
    /// Wall-clock deadline for the guest, enforced with epochs. Default: 10 minutes.
    pub deadline: Duration,
    /// Linear memory the guest may grow to, in bytes. Default: 2 GiB.
    pub memory_bytes: usize,
    /// Clues a run may emit. Default: 1,000,000.
    pub max_clues: usize,
    /// Bytes of clue text (subjects, rules, reasons, evidence) a run may emit. Default: 256 MiB.
    pub max_output_bytes: usize,
    /// Bytes of `log` lines a run may write. Default: 1 MiB.
    pub max_log_bytes: usize,
    /// Bytes kept from each of stdout and stderr (the rest makes writes fail). Default: 64 KiB.
    pub max_stdio_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Some(200_000_000_000),
            deadline: Duration::from_secs(600),
            memory_bytes: 2 << 30,
            max_clues: 1_000_000,
            max_output_bytes: 256 << 20,
            max_log_bytes: 1 << 20,
            max_stdio_bytes: 64 << 10,
        }
    }
}

/// Epoch ticks per second; the deadline is counted in ticks.
pub const EPOCH_TICKS_PER_SECOND: u64 = 100;
