//! Guest-controlled text made safe to print: control characters and terminal escapes are shown as
//! escapes, and long text is cut to a short prefix that says how long the whole was.

use std::fmt::Write as _;

/// `text` with every control character (C0, DEL, C1, and the bidirectional overrides that can
/// reorder a line) written as an escape, so a model cannot move the cursor, clear the screen or
/// forge a line of the report. Printable text, Chinese included, is kept as is.
pub fn escape(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Like [`escape`], but keeps newlines and tabs (multi-line text such as a panic message).
pub fn escape_multiline(text: &str) -> String {
    text.split('\n').map(|line| escape(line).replace("\\t", "\t")).collect::<Vec<_>>().join("\n")
}

/// At most `max_chars` characters of `text`, escaped; a cut is marked with the full length.
pub fn prefix(text: &str, max_chars: usize) -> String {
    let mut chars = text.char_indices();
    match chars.nth(max_chars) {
        None => escape(text),
        Some((cut, _)) => format!("{}… ({} bytes in all)", escape(&text[..cut]), text.len()),
    }
}

/// A guest-given name or value quoted for a message: at most 48 characters, escaped.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", prefix(text, 48))
}

/// A CSV cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'` (OWASP's advice against CSV injection).
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Whether `c` is a control character a clue's subject or rule may not contain.
pub use sieve_sdk::model::clue_limits::is_control;

fn needs_escape(c: char) -> bool {
    is_control(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Percent-encode a URL path segment or query value (every byte but `A-Z a-z 0-9 - _ . ~ @`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        assert_eq!(escape("\x1b[2J\x1b[Houtcome completed"), "\\u{1b}[2J\\u{1b}[Houtcome completed");
        assert_eq!(escape("a\nb\r\u{7f}\u{9b}"), "a\\nb\\r\\u{7f}\\u{9b}");
        assert_eq!(escape("(2017)浙0102民初49号"), "(2017)浙0102民初49号");
        assert_eq!(escape("\u{202E}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(escape_multiline("line 1\n\tat \x1b[31m"), "line 1\n\tat \\u{1b}[31m");
    }

    #[test]
    fn formulas_are_defused_for_spreadsheets() {
        for bad in ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(bad), format!("'{bad}"));
        }
        assert_eq!(spreadsheet_safe("(2017)浙0102民初49号"), "(2017)浙0102民初49号");
    }

    #[test]
    fn prefixes_are_short_and_say_the_length() {
        let long = "x".repeat(1000);
        assert_eq!(prefix(&long, 4), "xxxx… (1000 bytes in all)");
        assert_eq!(prefix("浙江省", 2), "浙江… (9 bytes in all)");
        assert_eq!(prefix("short", 48), "short");
        assert_eq!(quote("a\x1bb"), "\"a\\u{1b}b\"");
    }
}
