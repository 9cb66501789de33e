//! A run's clues as one clue set, the form a finished run stores them in (table `clue_sets`) and
//! the form they are read back in for a rerun: per clue its subject, score, rule, reason and
//! evidence (JSON), each written `<bytes>:<text>`, in emission order, the whole compressed with
//! zstd (clue text compresses about 8x). One row written when a run finishes costs a fraction of
//! a row per clue with its index entries; the rows that paging, rule counts and reviews need are
//! made from the set when the run's clues are first read ([`super::store`]'s `index_clues`).

use std::fmt::Write as _;
use std::io::Read as _;

use sieve_sdk::Clue;

/// The most a stored set may inflate to: far above any run's output limit, so that only a set
/// altered in the database can reach it, and it is refused before memory is spent on it.
const MAX_SET_BYTES: u64 = 1 << 30;

/// One clue's fields as stored, borrowed from a clue set.
#[derive(Debug, PartialEq)]
pub struct StoredFields<'a> {
    pub subject: &'a str,
    pub score: f64,
    pub rule: &'a str,
    pub reason: &'a str,
    /// The evidence as JSON (what [`crate::clues::evidence_lines`] writes).
    pub evidence: &'a str,
}

/// `clues` as a clue set, compressed. Scores are written in Rust's shortest form that reads back
/// to the same double.
pub fn encode(clues: &[Clue]) -> Result<Vec<u8>, String> {
    let mut out = String::with_capacity(clues.len() * 160);
    for c in clues {
        let evidence =
            serde_json::to_string(&crate::clues::evidence_lines(&c.evidence)).map_err(|e| e.to_string())?;
        let score = format!("{:?}", c.score);
        for field in [c.subject.as_str(), &score, &c.rule, &c.reason, &evidence] {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}:", field.len());
            out.push_str(field);
        }
    }
    // Level 1: about 700 MB/s on this kind of text, within 5% of level 3's size.
    zstd::bulk::compress(out.as_bytes(), 1).map_err(|e| e.to_string())
}

/// The text of compressed clue set `set`.
pub fn inflate(set: &[u8]) -> Result<String, String> {
    let mut text = Vec::new();
    zstd::stream::read::Decoder::new(set)
        .and_then(|d| d.take(MAX_SET_BYTES + 1).read_to_end(&mut text))
        .map_err(|e| format!("the clue set does not decompress: {e}"))?;
    if text.len() as u64 > MAX_SET_BYTES {
        return Err(format!("the clue set inflates past {MAX_SET_BYTES} bytes"));
    }
    String::from_utf8(text).map_err(|_| "the clue set is not UTF-8".to_string())
}

/// The clues of clue set text `text` (inflated), in order; an error says what in it does not read.
pub fn decode(text: &str) -> Result<Vec<StoredFields<'_>>, &'static str> {
    let mut rest = text;
    let mut clues = Vec::new();
    while !rest.is_empty() {
        let [subject, score, rule, reason, evidence] = take_fields(&mut rest)?;
        let score = score.parse::<f64>().map_err(|_| "a score is not a number")?;
        clues.push(StoredFields { subject, score, rule, reason, evidence });
    }
    Ok(clues)
}

/// The clues of clue set text `text` (inflated) as the model emitted them.
pub fn to_clues(text: &str) -> Result<Vec<Clue>, String> {
    decode(text)?
        .into_iter()
        .map(|f| {
            Ok(Clue {
                subject: f.subject.to_string(),
                score: f.score,
                rule: f.rule.to_string(),
                reason: f.reason.to_string(),
                evidence: crate::clues::evidence_from_stored(f.evidence).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

/// The next `N` fields of `rest`, each written `<bytes>:<text>`, and `rest` moved past them.
fn take_fields<'a, const N: usize>(rest: &mut &'a str) -> Result<[&'a str; N], &'static str> {
    let mut fields = [""; N];
    for field in &mut fields {
        let (length, after) = rest.split_once(':').ok_or("a field without its length")?;
        let length: usize = length.parse().map_err(|_| "a field's length is not a number")?;
        *field = after.get(..length).ok_or("a field shorter than its length, or cut inside a character")?;
        *rest = &after[length..];
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::Evidence;

    #[test]
    fn fields_are_read_by_their_byte_lengths_whatever_they_hold() {
        // A subject in Chinese (three bytes a character), a reason holding the separator and
        // what looks like a length, an empty rule.
        let mut rest = "9:案件一3:0.50:13:12:x, see 3:a";
        let [subject, score, rule, reason] = take_fields(&mut rest).expect("fields");
        assert_eq!((subject, score, rule, reason, rest), ("案件一", "0.5", "", "12:x, see 3:a", ""));
    }

    #[test]
    fn a_malformed_field_is_an_error_never_a_panic() {
        for bad in ["5:abc", "x:abc", "abc", "2:案", "18446744073709551616:a"] {
            let mut rest = bad;
            assert!(take_fields::<1>(&mut rest).is_err(), "{bad}");
        }
        assert_eq!(decode("1:a3:0.51:r1:x2:[]1:b"), Err("a field without its length"));
        assert_eq!(decode("1:a1:x1:r1:x2:[]"), Err("a score is not a number"));
    }

    #[test]
    fn clues_read_back_exactly_as_emitted() {
        let clue = |subject: &str, score: f64, reason: &str| Clue {
            subject: subject.into(),
            score,
            rule: "r:1".into(),
            reason: reason.into(),
            evidence: vec![
                Evidence { table: "案件".into(), row: 7 },
                Evidence { table: "t".into(), row: u64::MAX },
            ],
        };
        // Scores that a 15-digit form would not round-trip, the smallest positive one, separators
        // and lengths inside the text.
        let clues = vec![
            clue("京A12345", 0.1 + 0.2, "3:abc:"),
            clue("", f64::MIN_POSITIVE, ""),
            clue("x", 1.0, "line\nbreak"),
        ];
        let set = inflate(&encode(&clues).expect("encode")).expect("inflate");
        assert_eq!(to_clues(&set).expect("decode"), clues);
        let fields = decode(&set).expect("fields");
        assert_eq!(
            fields[0].evidence,
            r#"[{"row":7,"table":"案件"},{"row":18446744073709551615,"table":"t"}]"#
        );
        assert_eq!(to_clues(""), Ok(Vec::new()));
    }

    #[test]
    fn a_set_that_does_not_inflate_is_an_error() {
        let set = encode(&[]).expect("encode");
        assert_eq!(inflate(&set).as_deref(), Ok(""));
        assert!(inflate(&set[..set.len() / 2]).is_err());
        assert!(inflate(b"not zstd").is_err());
        let not_utf8 = zstd::bulk::compress(&[0xff, 0xfe], 1).expect("compress");
        assert_eq!(inflate(&not_utf8), Err("the clue set is not UTF-8".to_string()));
    }
}
