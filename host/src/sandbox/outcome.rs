//! Typed outcomes of loading and running a model; never decided by matching trap strings.

use std::fmt;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The model ran to the end.
    Completed,
    /// The model returned an error, or emitted an invalid clue.
    ModelError(String),
    /// The fuel budget ran out (the detail says which budget).
    OutOfFuel(String),
    /// The wall-clock deadline passed (the detail says which deadline).
    DeadlineExceeded(String),
    /// The guest tried to grow memory past the limit.
    MemoryLimit(String),
    /// Too many clues, clue bytes or log bytes.
    OutputLimit(String),
    /// The guest trapped (panic, unreachable, stack overflow ...).
    Trap {
        /// The trap, with the guest's panic message when it printed one.
        message: String,
        /// Symbolized WebAssembly backtrace, innermost frame first.
        backtrace: Vec<String>,
    },
    /// The component imports something outside the allow-list, or the wrong API version.
    LinkError(String),
    /// The file is not a valid component.
    InvalidComponent(String),
    /// The bytes do not hash to the pinned digest.
    HashMismatch {
        /// The pinned digest.
        expected: String,
        /// The digest of the bytes given.
        actual: String,
    },
    /// The dataset or the parameters do not satisfy what the model declares.
    BadInput(String),
}

/// Exit status of a run refused because bytes do not match their digest.
pub const HASH_MISMATCH_EXIT: i32 = 18;

impl Outcome {
    /// Kebab-case name used in JSON and storage.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ModelError(_) => "model-error",
            Outcome::OutOfFuel(_) => "out-of-fuel",
            Outcome::DeadlineExceeded(_) => "deadline-exceeded",
            Outcome::MemoryLimit(_) => "memory-limit",
            Outcome::OutputLimit(_) => "output-limit",
            Outcome::Trap { .. } => "trap",
            Outcome::LinkError(_) => "link-error",
            Outcome::InvalidComponent(_) => "invalid-component",
            Outcome::HashMismatch { .. } => "hash-mismatch",
            Outcome::BadInput(_) => "bad-input",
        }
    }

    /// Process exit status for `sieve run` (documented in `sieve run --help` and the README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Completed => 0,
            Outcome::ModelError(_) => 10,
            Outcome::OutOfFuel(_) => 11,
            Outcome::DeadlineExceeded(_) => 12,
            Outcome::MemoryLimit(_) => 13,
            Outcome::OutputLimit(_) => 14,
            Outcome::Trap { .. } => 15,
            Outcome::LinkError(_) => 16,
            Outcome::InvalidComponent(_) => 17,
            Outcome::HashMismatch { .. } => HASH_MISMATCH_EXIT,
            Outcome::BadInput(_) => 19,
        }
    }

    /// A one-line explanation (empty for `completed`).
    pub fn detail(&self) -> String {
        match self {
            Outcome::Completed => String::new(),
            Outcome::ModelError(m)
            | Outcome::MemoryLimit(m)
            | Outcome::OutputLimit(m)
            | Outcome::LinkError(m)
            | Outcome::InvalidComponent(m)
            | Outcome::BadInput(m)
            | Outcome::OutOfFuel(m)
            | Outcome::DeadlineExceeded(m) => m.clone(),
            Outcome::Trap { message, .. } => message.clone(),
            Outcome::HashMismatch { expected, actual } => {
                format!("the component hashes to {actual}, not the pinned {expected}")
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = self.detail();
        if detail.is_empty() { f.write_str(self.code()) } else { write!(f, "{}: {detail}", self.code()) }
    }
}

/// The exit-code table, for `--help` and the README.
pub const EXIT_CODES: &str = "Exit status: 0 completed, 10 model-error, 11 out-of-fuel, 12 deadline-exceeded, \
13 memory-limit, 14 output-limit, 15 trap, 16 link-error, 17 invalid-component, 18 hash-mismatch, \
19 bad-input; 1 for any other error (unreadable file, bad flag value).";
