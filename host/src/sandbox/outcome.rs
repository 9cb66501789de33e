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
    /// The blob store failed or could not be reached (after retrying for a while): the run's
    /// data could not be read, through no fault of the model or the data.
    Storage(String),
}

/// Exit status of a run refused because bytes do not match their digest.
pub const HASH_MISMATCH_EXIT: i32 = 18;

/// Each outcome's code and the exit status of `sieve run` that ended with it.
const EXIT_STATUS: [(&str, i32); 12] = [
    ("completed", 0),
    ("model-error", 10),
    ("out-of-fuel", 11),
    ("deadline-exceeded", 12),
    ("memory-limit", 13),
    ("output-limit", 14),
    ("trap", 15),
    ("link-error", 16),
    ("invalid-component", 17),
    ("hash-mismatch", HASH_MISMATCH_EXIT),
    ("bad-input", 19),
    ("storage", 20),
];

/// The exit status for an outcome given by its code (as stored, or as a server reports it);
/// 1 for anything else, such as a run whose host died (`host-crash`).
pub fn exit_code_of(code: &str) -> i32 {
    EXIT_STATUS.iter().find(|(c, _)| *c == code).map_or(1, |(_, status)| *status)
}

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
            Outcome::Storage(_) => "storage",
        }
    }

    /// Process exit status for `sieve run` (documented in `sieve run --help` and the README).
    pub fn exit_code(&self) -> i32 {
        exit_code_of(self.code())
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
            | Outcome::Storage(m)
            | Outcome::OutOfFuel(m)
            | Outcome::DeadlineExceeded(m) => m.clone(),
            Outcome::Trap { message, .. } => message.clone(),
            Outcome::HashMismatch { expected, actual } => {
                format!("the stored bytes hash to {actual}, not the pinned {expected}")
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
19 bad-input, 20 storage; 1 for any other error (unreadable file, bad flag value).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_and_its_stored_code_give_the_same_exit_status() {
        let outcomes = [
            Outcome::Completed,
            Outcome::ModelError(String::new()),
            Outcome::OutOfFuel(String::new()),
            Outcome::DeadlineExceeded(String::new()),
            Outcome::MemoryLimit(String::new()),
            Outcome::OutputLimit(String::new()),
            Outcome::Trap { message: String::new(), backtrace: Vec::new() },
            Outcome::LinkError(String::new()),
            Outcome::InvalidComponent(String::new()),
            Outcome::HashMismatch { expected: String::new(), actual: String::new() },
            Outcome::BadInput(String::new()),
            Outcome::Storage(String::new()),
        ];
        let statuses: Vec<i32> = outcomes.iter().map(Outcome::exit_code).collect();
        assert_eq!(statuses, [0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        for o in &outcomes {
            assert!(EXIT_CODES.contains(&format!("{} {}", o.exit_code(), o.code())), "{}", o.code());
        }
        assert_eq!(exit_code_of("host-crash"), 1);
    }
}
