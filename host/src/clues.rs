//! Clues as JSON: one object per line (`clues.jsonl`), the form `sieve run --out` writes and `sieve score` reads.

use serde_json::{Value, json};
use sieve_sdk::{Clue, Evidence};

/// One clue as a JSON object.
pub fn to_json(clue: &Clue) -> Value {
    json!({
        "subject": clue.subject,
        "score": clue.score,
        "rule": clue.rule,
        "reason": clue.reason,
        "evidence": clue.evidence.iter().map(|e| json!({"table": e.table, "row": e.row})).collect::<Vec<_>>(),
    })
}

/// A clue as a JSON line writes it: the fields of [`to_json`] in the same (sorted) order, borrowed
/// rather than built as a `Value` (an output digest serializes every clue of a run).
#[derive(serde::Serialize)]
struct Line<'a> {
    evidence: Vec<EvidenceLine<'a>>,
    reason: &'a str,
    rule: &'a str,
    score: f64,
    subject: &'a str,
}

/// One evidence row as stored and written: `{"row":..,"table":..}`.
#[derive(serde::Serialize)]
pub struct EvidenceLine<'a> {
    row: u64,
    table: &'a str,
}

/// A clue's evidence in its stored and written form.
pub fn evidence_lines(evidence: &[Evidence]) -> Vec<EvidenceLine<'_>> {
    evidence.iter().map(|e| EvidenceLine { row: e.row, table: &e.table }).collect()
}

/// Evidence read back from its stored form (what [`evidence_lines`] writes).
pub fn evidence_from_stored(text: &str) -> Result<Vec<Evidence>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Stored {
        table: String,
        row: u64,
    }
    let rows: Vec<Stored> = serde_json::from_str(text)?;
    Ok(rows.into_iter().map(|e| Evidence { table: e.table, row: e.row }).collect())
}

/// Clues as JSON lines, each line ending in `\n`: byte for byte what [`to_json`] gives.
pub fn to_jsonl(clues: &[Clue]) -> String {
    let mut out = Vec::with_capacity(clues.len() * 256);
    for_each_line(clues, |line| out.extend_from_slice(line));
    String::from_utf8(out).unwrap_or_default()
}

/// Each clue's JSON line, `\n` included, as [`to_jsonl`] writes it, handed to `take` from one
/// reused buffer (an output digest hashes them without the whole text ever being built).
pub fn for_each_line(clues: &[Clue], mut take: impl FnMut(&[u8])) {
    let mut buffer = Vec::with_capacity(512);
    for c in clues {
        let line = Line {
            evidence: evidence_lines(&c.evidence),
            reason: &c.reason,
            rule: &c.rule,
            score: c.score,
            subject: &c.subject,
        };
        buffer.clear();
        // Writing into a Vec cannot fail, and a clue holds nothing serde_json refuses.
        if serde_json::to_writer(&mut buffer, &line).is_ok() {
            buffer.push(b'\n');
            take(&buffer);
        }
    }
}

/// Parse JSON lines of clues; errors name the line.
pub fn from_jsonl(text: &str) -> Result<Vec<Clue>, String> {
    let mut clues = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let v: Value = serde_json::from_str(line).map_err(|e| format!("line {line_no}: {e}"))?;
        let subject = v["subject"].as_str().ok_or_else(|| format!("line {line_no}: missing \"subject\""))?;
        let score =
            v["score"].as_f64().ok_or_else(|| format!("line {line_no}: missing numeric \"score\""))?;
        let evidence = v["evidence"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| {
                        Some(Evidence { table: e["table"].as_str()?.to_string(), row: e["row"].as_u64()? })
                    })
                    .collect()
            })
            .unwrap_or_default();
        clues.push(Clue {
            subject: subject.to_string(),
            score,
            rule: v["rule"].as_str().unwrap_or_default().to_string(),
            reason: v["reason"].as_str().unwrap_or_default().to_string(),
            evidence,
        });
    }
    Ok(clues)
}

/// Evidence as `table:row` items joined by spaces.
pub fn evidence_text(evidence: &serde_json::Value) -> String {
    evidence
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| format!("{}:{}", e["table"].as_str().unwrap_or("?"), e["row"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Stored clues as CSV: one header line, one clue per line. Every text cell came from a model,
/// so none may become a spreadsheet formula.
pub fn stored_to_csv(clues: &[crate::runs::store::StoredClue]) -> Result<String, String> {
    use crate::text::spreadsheet_safe;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| e.to_string();
    w.write_record(["seq", "subject", "score", "rule", "reason", "evidence", "verdict", "verdict_reason"])
        .map_err(fail)?;
    for c in clues {
        let evidence = evidence_text(&c.evidence);
        let (verdict, why) = c.verdict.as_ref().map_or(("", ""), |v| (v.verdict.name(), v.reason.as_str()));
        w.write_record([
            &c.seq.to_string(),
            &*spreadsheet_safe(&c.subject),
            &c.score.to_string(),
            &*spreadsheet_safe(&c.rule),
            &*spreadsheet_safe(&c.reason),
            &*spreadsheet_safe(&evidence),
            verdict,
            &*spreadsheet_safe(why),
        ])
        .map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_byte_for_byte_the_value_form() {
        let clues = [
            Clue::new("(2017)浙0102民初49号", 1.0, "r-1", "a \"quoted\" reason\twith\na newline")
                .evidence("judgments", [0, 7])
                .evidence("vehicles", [3]),
            Clue::new("c2", 0.123456789012345, "rule", "").evidence("t", [u32::MAX as usize]),
            Clue::new("c3", 0.0, "x", "\u{202e}bidi"),
        ];
        let by_value: String = clues.iter().map(|c| format!("{}\n", to_json(c))).collect();
        assert_eq!(to_jsonl(&clues), by_value);
        // A run's output digest hashes the lines one by one: the digest of that same text.
        assert_eq!(crate::sandbox::output_digest(&clues), crate::digest::digest_of(by_value.as_bytes()));
        let stored = serde_json::to_string(&evidence_lines(&clues[0].evidence)).expect("serializes");
        assert_eq!(
            stored,
            r#"[{"row":0,"table":"judgments"},{"row":7,"table":"judgments"},{"row":3,"table":"vehicles"}]"#
        );
    }
}
