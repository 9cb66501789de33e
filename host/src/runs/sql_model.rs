//! SQL models: a text file (a header of `-- key: value` lines and one query) run by the SQL
//! engine component. The host keeps the text in canonical form, names the model by the digest of
//! (engine digest, canonical text), and hands the engine the text and its task's contract
//! ([`SqlSource`]); the engine plans the query and declares, as the model's inputs, exactly the
//! columns its plan reads.

use std::path::{Path, PathBuf};

use crate::datasets::contract;
use crate::sandbox::sql::SqlSource;

/// Whether `path` names a SQL model (by its extension).
pub fn is_sql_model(path: &str) -> bool {
    Path::new(path).extension().is_some_and(|e| e.eq_ignore_ascii_case("sql"))
}

/// `text` as it is published and digested: UTF-8 with `\n` line ends, no trailing spaces on a
/// line, no blank lines at the end, one final newline. Editors that differ in those details
/// publish the same model.
pub fn canonical(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The task a SQL model's header names (`-- task: ...`); the engine reads the rest.
pub fn task_of(text: &str) -> Result<String, String> {
    text.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with("--"))
        .filter_map(|l| l.strip_prefix("--")?.trim().strip_prefix("task:").map(|t| t.trim().to_string()))
        .next()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "the SQL model's header has no `-- task:` line".to_string())
}

/// What the engine is given to run the SQL model `text`: its canonical text and its task's
/// contract. An unknown task is an error naming it.
pub fn source(text: &str) -> Result<SqlSource, String> {
    let text = canonical(text);
    let task = task_of(&text)?;
    let tables = contract::tables(&task)
        .ok_or_else(|| format!("the SQL model names task {task:?}, which Sieve does not know"))?;
    let contract = tables
        .into_iter()
        .map(|t| (t.name, t.columns.into_iter().map(|c| (c.name, c.ty.name().to_string())).collect()))
        .collect();
    Ok(SqlSource { text, task, contract })
}

/// The first line of a published SQL model's package.
const PACKAGE_MAGIC: &str = "sieve-sql-model\n";

/// A SQL model as the registry stores it: the line `sieve-sql-model`, the digest of the engine
/// that runs it, and its canonical text. The package's digest is the model's identity, so what
/// was vetted and approved (that engine, that text) is what every run loads.
pub fn package(engine_digest: &str, source: &SqlSource) -> Vec<u8> {
    format!("{PACKAGE_MAGIC}{engine_digest}\n{}", source.text).into_bytes()
}

/// The engine digest and text of a SQL model package; `None` when `bytes` are not one (a
/// component), an error when they start like one but are malformed.
pub fn unpack(bytes: &[u8]) -> Option<Result<(String, String), String>> {
    let rest = bytes.strip_prefix(PACKAGE_MAGIC.as_bytes())?;
    Some((|| {
        let text =
            std::str::from_utf8(rest).map_err(|e| format!("the SQL model package is not UTF-8: {e}"))?;
        let (engine, text) =
            text.split_once('\n').ok_or("the SQL model package has no engine digest line")?;
        if crate::digest::parse_digest(engine).ok().as_deref() != Some(engine) {
            return Err(format!("the SQL model package names its engine as {engine:?}, not as sha256:<hex>"));
        }
        Ok((engine.to_string(), text.to_string()))
    })())
}

/// Where the SQL engine component is: `SIEVE_SQL_ENGINE`, else the one
/// `scripts/build-sql-engine.sh` builds in this checkout.
pub fn engine_path() -> PathBuf {
    std::env::var_os("SIEVE_SQL_ENGINE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../engines/sql-engine/sql-engine.wasm"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_of;

    #[test]
    fn canonical_text_ignores_line_ends_and_trailing_space() {
        let a = "-- name: x  \r\n-- task: copyright-harvesting\r\nSELECT 1\r\n\r\n\r\n";
        let b = "-- name: x\n-- task: copyright-harvesting\nSELECT 1";
        assert_eq!(canonical(a), canonical(b));
        assert_eq!(canonical(b), "-- name: x\n-- task: copyright-harvesting\nSELECT 1\n");
        let s = source(a).expect("a known task");
        assert_eq!(s.task, "copyright-harvesting");
        assert!(s.contract.iter().any(|(t, _)| t == "registrations"), "{:?}", s.contract);
        let (e1, e2) = (digest_of(b"engine 1"), digest_of(b"engine 2"));
        assert_ne!(
            digest_of(&package(&e1, &s)),
            digest_of(&package(&e2, &s)),
            "the engine is part of the identity"
        );
        assert_eq!(unpack(&package(&e1, &s)), Some(Ok((e1.clone(), s.text.clone()))), "a package unpacks");
        assert_eq!(unpack(b"\0asm\x0d\0\x01\0"), None, "a component is no package");
        for bad in ["sieve-sql-model\nsha256:xyz\nSELECT 1", "sieve-sql-model\nno engine line"] {
            assert!(unpack(bad.as_bytes()).is_some_and(|r| r.is_err()), "{bad:?} is a malformed package");
        }
        assert!(source("-- task: no-such-task\nSELECT 1").expect_err("unknown").contains("no-such-task"));
        assert!(task_of("SELECT 1 -- task: x").is_err(), "only the header counts");
    }
}
