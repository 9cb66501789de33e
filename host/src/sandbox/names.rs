//! What a name a model declares may look like. Table and column names are identifiers, never
//! paths: they are looked up in a dataset, so `./labels`, `../x` or `/etc/passwd` must not even
//! be expressible.

/// Longest table, column or parameter name.
pub const MAX_NAME_BYTES: usize = 64;

/// Whether `name` is a table or column identifier: `[a-z0-9_]{1,64}`.
pub fn is_identifier(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `name` is a parameter name: `[a-z0-9][a-z0-9_-]{0,63}` (`min-pair-cases`).
pub fn is_param_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The table name reserved for a benchmark's answers: no model may declare or open it.
pub const LABELS_TABLE: &str = "labels";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_not_paths() {
        for good in ["judgments", "case_no", "t1", "a".repeat(64).as_str()] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["", "./labels", "../outside", "/etc/passwd", "Judgments", "a-b", "a.b", "表", "a b"] {
            assert!(!is_identifier(bad), "{bad}");
        }
        assert!(!is_identifier(&"a".repeat(65)));
        assert!(is_param_name("min-pair-cases") && is_param_name("mode"));
        assert!(!is_param_name("-x") && !is_param_name("A") && !is_param_name("a=b"));
    }
}
