//! What a model declares about itself (inputs, parameters) and what it produces (clues, errors).

use std::collections::BTreeMap;
use std::fmt;

/// The logical type of a column, as declared by a model and checked by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// 64-bit signed integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// Boolean.
    Boolean,
    /// Calendar date (days since 1970-01-01).
    Date,
    /// UTC timestamp (milliseconds since the epoch).
    Timestamp,
}

impl ColumnType {
    /// The name used in WIT, CLI output and error messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One column a model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name from the task's table contract.
    pub name: String,
    /// The type the model reads it as.
    pub ty: ColumnType,
}

/// One table a model reads, with the columns it needs from it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Table name from the task's table contract.
    pub name: String,
    /// The declared columns; the model may read no others.
    pub columns: Vec<ColumnSpec>,
}

impl TableSpec {
    /// Start declaring table `name`.
    pub fn new(name: &str) -> Self {
        TableSpec { name: name.to_string(), columns: Vec::new() }
    }

    /// Declare a column of type `ty`.
    pub fn column(mut self, name: &str, ty: ColumnType) -> Self {
        self.columns.push(ColumnSpec { name: name.to_string(), ty });
        self
    }

    /// Declare text columns.
    pub fn text(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Text))
    }

    /// Declare date columns.
    pub fn date(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Date))
    }

    /// Declare timestamp columns.
    pub fn timestamp(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Timestamp))
    }

    /// Declare float columns.
    pub fn float64(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Float64))
    }

    /// Declare integer columns.
    pub fn int64(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Int64))
    }

    /// Declare boolean columns.
    pub fn boolean(self, names: &[&str]) -> Self {
        names.iter().fold(self, |t, n| t.column(n, ColumnType::Boolean))
    }

    /// The declared column called `name`, if any.
    pub fn find(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The type of a model parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Signed integer.
    Int,
    /// Float.
    Float,
    /// `true` / `false`.
    Boolean,
    /// Free text.
    Text,
}

impl ParamType {
    /// The name used in CLI output and error messages.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Boolean => "boolean",
            ParamType::Text => "text",
        }
    }
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Boolean(bool),
    /// Text.
    Text(String),
}

impl ParamValue {
    /// The value's type.
    pub fn ty(&self) -> ParamType {
        match self {
            ParamValue::Int(_) => ParamType::Int,
            ParamValue::Float(_) => ParamType::Float,
            ParamValue::Boolean(_) => ParamType::Boolean,
            ParamValue::Text(_) => ParamType::Text,
        }
    }

    /// Parse a caller's text (`--param name=text`) as a value of type `ty`.
    pub fn parse(ty: ParamType, text: &str) -> Result<ParamValue, String> {
        let text = text.trim();
        match ty {
            ParamType::Int => {
                text.parse().map(ParamValue::Int).map_err(|_| format!("expected an integer, got {text:?}"))
            }
            ParamType::Float => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(ParamValue::Float(v)),
                _ => Err(format!("expected a finite number, got {text:?}")),
            },
            ParamType::Boolean => match text {
                "true" => Ok(ParamValue::Boolean(true)),
                "false" => Ok(ParamValue::Boolean(false)),
                _ => Err(format!("expected true or false, got {text:?}")),
            },
            ParamType::Text => Ok(ParamValue::Text(text.to_string())),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Boolean(v) => write!(f, "{v}"),
            ParamValue::Text(v) => f.write_str(v),
        }
    }
}

/// A parameter a model accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name, as given on the command line.
    pub name: String,
    /// Default value; its type is the parameter's type.
    pub default: ParamValue,
    /// What the parameter controls.
    pub description: String,
}

impl ParamSpec {
    /// A parameter with a default value (which fixes its type) and a description.
    pub fn new(name: &str, default: ParamValue, description: &str) -> Self {
        ParamSpec { name: name.to_string(), default, description: description.to_string() }
    }

    /// The parameter's type.
    pub fn ty(&self) -> ParamType {
        self.default.ty()
    }
}

/// What a model says about itself: identity, inputs, parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    /// Short machine name.
    pub name: String,
    /// The model's version.
    pub version: String,
    /// What it flags and why, for prosecutors.
    pub summary: String,
    /// The DOMAIN.md task id.
    pub task: String,
    /// What a clue's subject is.
    pub subject_kind: String,
    /// Declared inputs.
    pub inputs: Vec<TableSpec>,
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
}

impl ModelInfo {
    /// Start describing model `name` at `version`.
    pub fn new(name: &str, version: &str) -> Self {
        ModelInfo { name: name.to_string(), version: version.to_string(), ..Default::default() }
    }

    /// Set the summary.
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = summary.to_string();
        self
    }

    /// Set the task id and the subject kind.
    pub fn task(mut self, task: &str, subject_kind: &str) -> Self {
        self.task = task.to_string();
        self.subject_kind = subject_kind.to_string();
        self
    }

    /// Declare an input table.
    pub fn input(mut self, table: TableSpec) -> Self {
        self.inputs.push(table);
        self
    }

    /// Declare an integer parameter.
    pub fn param_int(mut self, name: &str, default: i64, description: &str) -> Self {
        self.params.push(ParamSpec::new(name, ParamValue::Int(default), description));
        self
    }

    /// Declare a float parameter.
    pub fn param_float(mut self, name: &str, default: f64, description: &str) -> Self {
        self.params.push(ParamSpec::new(name, ParamValue::Float(default), description));
        self
    }

    /// Declare a boolean parameter.
    pub fn param_bool(mut self, name: &str, default: bool, description: &str) -> Self {
        self.params.push(ParamSpec::new(name, ParamValue::Boolean(default), description));
        self
    }

    /// Declare a text parameter.
    pub fn param_text(mut self, name: &str, default: &str, description: &str) -> Self {
        self.params.push(ParamSpec::new(name, ParamValue::Text(default.to_string()), description));
        self
    }

    /// The declared table called `name`, if any.
    pub fn input_table(&self, name: &str) -> Option<&TableSpec> {
        self.inputs.iter().find(|t| t.name == name)
    }

    /// Resolve a caller's `name=text` settings against the declared parameters: every declared
    /// parameter gets a value (the default where unset); unknown names and bad values are errors.
    pub fn resolve_params(&self, settings: &[(String, String)]) -> Result<Params, String> {
        let mut values: BTreeMap<String, ParamValue> =
            self.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
        for (name, text) in settings {
            let spec = self.params.iter().find(|p| &p.name == name).ok_or_else(|| {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                format!("unknown parameter {name:?}; {} accepts: {}", self.name, known.join(", "))
            })?;
            let value = ParamValue::parse(spec.ty(), text).map_err(|e| format!("parameter {name:?}: {e}"))?;
            values.insert(name.clone(), value);
        }
        Ok(Params { values })
    }
}

/// The parameter values of one run, every declared parameter present.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Build from name/value pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, ParamValue)>) -> Self {
        Params { values: pairs.into_iter().collect() }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// All values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ParamValue)> {
        self.values.iter()
    }
}

/// Conversion from a parameter value into a Rust type, for [`crate::Context::param`].
pub trait FromParam: Sized {
    /// Convert, or say what was wrong.
    fn from_param(value: &ParamValue) -> Result<Self, String>;
}

macro_rules! int_from_param {
    ($($t:ty),*) => {$(
        impl FromParam for $t {
            fn from_param(value: &ParamValue) -> Result<Self, String> {
                match value {
                    ParamValue::Int(v) => <$t>::try_from(*v)
                        .map_err(|_| format!("{v} is out of range for {}", stringify!($t))),
                    other => Err(format!("expected an integer, got {other}")),
                }
            }
        }
    )*};
}
int_from_param!(i64, i32, u64, u32, usize);

impl FromParam for f64 {
    fn from_param(value: &ParamValue) -> Result<Self, String> {
        match value {
            ParamValue::Float(v) => Ok(*v),
            ParamValue::Int(v) => Ok(*v as f64),
            other => Err(format!("expected a number, got {other}")),
        }
    }
}

impl FromParam for bool {
    fn from_param(value: &ParamValue) -> Result<Self, String> {
        match value {
            ParamValue::Boolean(v) => Ok(*v),
            other => Err(format!("expected a boolean, got {other}")),
        }
    }
}

impl FromParam for String {
    fn from_param(value: &ParamValue) -> Result<Self, String> {
        match value {
            ParamValue::Text(v) => Ok(v.clone()),
            other => Err(format!("expected text, got {other}")),
        }
    }
}

/// One row a prosecutor should open to verify a clue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// Table name.
    pub table: String,
    /// Row index (0-based) in that table.
    pub row: u64,
}

/// What the host accepts in one clue (a clue outside these ends the run with a model error).
pub mod clue_limits {
    /// Longest subject, in bytes.
    pub const MAX_SUBJECT_BYTES: usize = 1024;
    /// Longest rule id, in bytes.
    pub const MAX_RULE_BYTES: usize = 64;
    /// Longest reason, in bytes.
    pub const MAX_REASON_BYTES: usize = 4096;
    /// Most evidence rows.
    pub const MAX_EVIDENCE_ROWS: usize = 256;

    /// Whether `c` is a control character (or a bidirectional override) that a subject or rule
    /// may not contain: printed, it could move the cursor or forge a line of a report.
    pub fn is_control(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
}

/// A lead for a prosecutor to verify.
#[derive(Debug, Clone, PartialEq)]
pub struct Clue {
    /// Id of the flagged subject.
    pub subject: String,
    /// Strength of evidence in [0, 1].
    pub score: f64,
    /// Short id of the rule that fired.
    pub rule: String,
    /// A sentence a prosecutor can act on.
    pub reason: String,
    /// The rows behind the clue.
    pub evidence: Vec<Evidence>,
}

impl Clue {
    /// A clue on `subject` from `rule`, scored `score` (clamped to [0, 1]).
    pub fn new(subject: impl Into<String>, score: f64, rule: &str, reason: impl Into<String>) -> Self {
        let score = if score.is_nan() { 0.0 } else { score.clamp(0.0, 1.0) };
        Clue {
            subject: subject.into(),
            score,
            rule: rule.to_string(),
            reason: reason.into(),
            evidence: Vec::new(),
        }
    }

    /// Check the clue's fields against what the host accepts (the evidence rows' tables and
    /// ranges are checked by whoever knows the dataset).
    pub fn check(&self) -> Result<(), String> {
        use clue_limits::*;
        let subject = &self.subject;
        if subject.trim().is_empty() || subject.len() > MAX_SUBJECT_BYTES || subject.chars().any(is_control) {
            return Err(format!(
                "subject {subject:?} must be 1-{MAX_SUBJECT_BYTES} bytes without control characters"
            ));
        }
        if self.rule.is_empty() || self.rule.len() > MAX_RULE_BYTES || self.rule.chars().any(is_control) {
            return Err(format!(
                "{subject}: rule {:?} must be 1-{MAX_RULE_BYTES} bytes without control characters",
                self.rule
            ));
        }
        if !(self.score.is_finite() && (0.0..=1.0).contains(&self.score)) {
            return Err(format!("{subject}: score {} is not in [0, 1]", self.score));
        }
        if self.reason.len() > MAX_REASON_BYTES || self.evidence.len() > MAX_EVIDENCE_ROWS {
            return Err(format!(
                "{subject}: reason over {MAX_REASON_BYTES} bytes or over {MAX_EVIDENCE_ROWS} evidence rows"
            ));
        }
        Ok(())
    }

    /// Add rows of `table` as evidence. A clue holds at most the host's limit of rows
    /// ([`clue_limits::MAX_EVIDENCE_ROWS`]); rows past it are left out rather than failing the run
    /// (a key that thousands of rows share is what skewed data holds), so list the telling rows
    /// first.
    pub fn evidence(mut self, table: &str, rows: impl IntoIterator<Item = usize>) -> Self {
        let room = clue_limits::MAX_EVIDENCE_ROWS.saturating_sub(self.evidence.len());
        self.evidence.extend(
            rows.into_iter().take(room).map(|row| Evidence { table: table.to_string(), row: row as u64 }),
        );
        self
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Fine detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something odd in the data.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Why a model gave up.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// A parameter is out of range.
    BadParam(String),
    /// The data is unusable.
    BadData(String),
    /// Anything else.
    Failed(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::BadParam(m) => write!(f, "bad parameter: {m}"),
            ModelError::BadData(m) => write!(f, "bad data: {m}"),
            ModelError::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// Why a table or column could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessError {
    /// Table not declared by the model, or absent from the dataset.
    UnknownTable(String),
    /// Column not declared for that table.
    UndeclaredColumn(String),
    /// Column is not dictionary-encoded.
    NotDictionary(String),
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::UnknownTable(t) => write!(f, "table {t:?} was not declared or is missing"),
            AccessError::UndeclaredColumn(c) => write!(f, "column {c:?} was not declared"),
            AccessError::NotDictionary(c) => write!(f, "column {c:?} is not dictionary-encoded"),
        }
    }
}

impl From<AccessError> for ModelError {
    fn from(e: AccessError) -> Self {
        ModelError::Failed(e.to_string())
    }
}

/// A supervision model: implement this and register it with [`crate::export_model!`].
pub trait Model {
    /// Identity, declared inputs and parameters.
    fn describe() -> ModelInfo;
    /// Read the declared tables through `ctx`, emit clues.
    fn run(ctx: &mut crate::Context) -> Result<(), ModelError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_past_the_hosts_limit_is_left_out_not_a_failed_run() {
        let clue = Clue::new("c1", 0.5, "r", "why")
            .evidence("cases", [7])
            .evidence("enforcement", 0..1000)
            .evidence("subsidies", [3]);
        assert_eq!(clue.evidence.len(), clue_limits::MAX_EVIDENCE_ROWS);
        assert_eq!((clue.evidence[0].table.as_str(), clue.evidence[0].row), ("cases", 7));
        assert!(clue.evidence.iter().all(|e| e.table != "subsidies"), "no room was left");
        assert!(clue.check().is_ok());
    }
}
