//! Columnar data as it crosses the host boundary: Arrow-style text, typed vectors, validity bitmaps.

use std::panic::UnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};

use crate::model::ColumnType;

/// Text values stored Arrow-style: one UTF-8 buffer and `len + 1` offsets into it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    bytes: String,
    offsets: Vec<u32>,
}

impl Text {
    /// An empty column.
    pub fn new() -> Self {
        Text { bytes: String::new(), offsets: vec![0] }
    }

    /// Build from raw parts, checking that the bytes are UTF-8 and the offsets sound.
    pub fn from_parts(bytes: Vec<u8>, offsets: Vec<u32>) -> Result<Self, String> {
        let bytes = String::from_utf8(bytes).map_err(|e| format!("text is not UTF-8: {e}"))?;
        Text::from_string(bytes, offsets)
    }

    /// Build from a string and offsets into it, checking that every offset is in range,
    /// non-decreasing and on a character boundary.
    pub fn from_string(bytes: String, offsets: Vec<u32>) -> Result<Self, String> {
        if offsets.first() != Some(&0) {
            return Err("text offsets must start at 0".into());
        }
        let mut previous = 0u32;
        for &o in &offsets {
            if o < previous || o as usize > bytes.len() || !bytes.is_char_boundary(o as usize) {
                return Err(format!("bad text offset {o}"));
            }
            previous = o;
        }
        Ok(Text { bytes, offsets })
    }

    /// Build from what the host sent: the host is the trusted side of the boundary and builds
    /// these from well-formed columns, so only the shape is checked here (offsets start at 0 and
    /// end at the length), not every offset: checking each cost a tenth of a text-heavy model's
    /// fuel. An offset that were wrong anyway would make [`Text::get`] panic (slicing is checked),
    /// never read out of bounds.
    pub fn from_host(bytes: String, offsets: Vec<u32>) -> Result<Self, String> {
        if offsets.first() != Some(&0) || offsets.last().is_some_and(|&end| end as usize != bytes.len()) {
            return Err(format!(
                "text of {} bytes with offsets from {:?} to {:?}",
                bytes.len(),
                offsets.first(),
                offsets.last()
            ));
        }
        Ok(Text { bytes, offsets })
    }

    /// Take the raw parts back: the values' text, concatenated, and the offsets.
    pub fn into_parts(self) -> (String, Vec<u32>) {
        (self.bytes, self.offsets)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True if there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`, borrowed from the buffer. Panics if `i` is out of range, like slice indexing.
    // Always inlined: in a guest, LLVM otherwise leaves these one-line accessors as calls inside
    // every model's hottest loops (a sixth of T7's guest time went to this call alone).
    #[inline(always)]
    pub fn get(&self, i: usize) -> &str {
        let (from, to) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        let bytes = self.bytes.as_bytes();
        // The checks `&self.bytes[from..to]` makes, written out: in a guest LLVM leaves str
        // slicing as a call, a tenth of a text-reading model's time.
        let boundary = |at: usize| at == bytes.len() || bytes.get(at).is_some_and(|&b| (b as i8) >= -0x40);
        assert!(from <= to && boundary(from) && boundary(to), "text offsets {from}..{to} are not a value");
        // SAFETY: `bytes` is a `String`'s, so UTF-8, and both ends were just checked to be char
        // boundaries within it (`boundary` of an index past the end is false): the slice between
        // them is UTF-8, exactly as `str` slicing checks it.
        unsafe { std::str::from_utf8_unchecked(&bytes[from..to]) }
    }

    /// Append a value.
    pub fn push(&mut self, value: &str) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.bytes.push_str(value);
        self.offsets.push(self.bytes.len() as u32);
    }

    /// Values `start..end` as a new column with rebased offsets.
    pub fn slice(&self, start: usize, end: usize) -> Text {
        let base = self.offsets[start];
        let bytes = self.bytes[base as usize..self.offsets[end] as usize].to_string();
        let offsets = self.offsets[start..=end].iter().map(|o| o - base).collect();
        Text { bytes, offsets }
    }

    /// Append all values of `other`.
    pub fn extend(&mut self, other: &Text) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let base = self.bytes.len() as u32;
        self.bytes.push_str(&other.bytes);
        self.offsets.extend(other.offsets.iter().skip(1).map(|o| o + base));
    }

    /// Make room for `rows` more values of about `bytes` bytes in all.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        self.offsets.reserve(rows);
        self.bytes.reserve(bytes);
    }

    /// Total bytes of text.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The concatenated values and the offsets, for hosts that lower them without copying per value.
    pub fn raw(&self) -> (&str, &[u32]) {
        (&self.bytes, &self.offsets)
    }
}

impl<'a> FromIterator<&'a str> for Text {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut t = Text::new();
        for v in iter {
            t.push(v);
        }
        t
    }
}

/// A validity bitmap, least significant bit first: bit `i` set means row `i` is not null.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bitmap {
    bits: Vec<u8>,
    len: usize,
}

impl Bitmap {
    /// A bitmap of `len` rows from packed bits (extra bits are ignored, missing bits are null).
    pub fn from_bytes(mut bits: Vec<u8>, len: usize) -> Self {
        bits.resize(len.div_ceil(8), 0);
        Bitmap { bits, len }
    }

    /// A bitmap from one flag per row.
    pub fn from_flags(flags: impl IntoIterator<Item = bool>) -> Self {
        let mut b = Bitmap::default();
        for f in flags {
            b.push(f);
        }
        b
    }

    /// Number of rows covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it covers no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether row `i` is valid (not null).
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        i < self.len && self.bits[i / 8] & (1 << (i % 8)) != 0
    }

    /// Append one row's flag.
    pub fn push(&mut self, valid: bool) {
        if self.len.is_multiple_of(8) {
            self.bits.push(0);
        }
        if valid {
            self.bits[self.len / 8] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    /// Append every row of `other`; whole bytes at a time when this bitmap ends on a byte.
    pub fn extend(&mut self, other: &Bitmap) {
        if self.len.is_multiple_of(8) {
            self.bits.truncate(self.len / 8);
            self.bits.extend_from_slice(&other.bits[..other.len.div_ceil(8)]);
            self.len += other.len;
            return;
        }
        for i in 0..other.len {
            self.push(other.is_valid(i));
        }
    }

    /// Rows `start..end` as a new bitmap.
    pub fn slice(&self, start: usize, end: usize) -> Bitmap {
        if start.is_multiple_of(8) {
            let bits = self.bits[start / 8..end.div_ceil(8)].to_vec();
            return Bitmap::from_bytes(bits, end - start);
        }
        Bitmap::from_flags((start..end).map(|i| self.is_valid(i)))
    }

    /// Number of null rows: a population count over whole bytes (a host counts the nulls of every
    /// batch it serves, a million rows at a time), bits past the end ignored.
    pub fn null_count(&self) -> usize {
        let (whole, tail) = (self.len / 8, self.len % 8);
        let valid: usize = self.bits[..whole].iter().map(|b| b.count_ones() as usize).sum();
        let tail_valid = match self.bits.get(whole) {
            Some(last) if tail > 0 => (last & ((1u8 << tail) - 1)).count_ones() as usize,
            _ => 0,
        };
        self.len - valid - tail_valid
    }

    /// The packed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }
}

/// Fetches a dictionary's text the first time it is needed, once (unwind-safe, like the plain
/// data around it, so a panic caught over a column leaves nothing half-made behind).
pub type FetchText = Box<dyn FnOnce() -> Result<Text, String> + Send + UnwindSafe>;

/// The distinct values a dictionary-encoded column's codes index. Its size is known at once; its
/// text may come later: a guest that groups and joins on codes and reads a clue's words with
/// `rows` never fetches it (T1's party dictionary is 23 MB), and a host reads it from storage
/// beside the model instead of before it. Dereferences to the [`Text`], fetching it on first use
/// (other threads wanting it meanwhile wait for that fetch); the length never fetches.
pub struct Dictionary {
    len: usize,
    text: OnceLock<Result<Text, String>>,
    /// Taken by the fetch, so that what it holds is freed once the text is here.
    fetch: Mutex<Option<FetchText>>,
}

impl Dictionary {
    /// A dictionary whose text is fetched by `fetch` on first use; `fetch` must return `len`
    /// entries.
    pub fn lazy(len: usize, fetch: FetchText) -> Self {
        Dictionary { len, text: OnceLock::new(), fetch: Mutex::new(Some(fetch)) }
    }

    /// Number of entries (every code is below it), without fetching the text.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the text is here (always, unless made [`Dictionary::lazy`] and not yet used).
    pub fn is_fetched(&self) -> bool {
        matches!(self.text.get(), Some(Ok(_)))
    }

    /// The text, fetched on first use; why not, when the fetch failed or brought a different
    /// number of entries (every later call gives the same answer).
    pub fn try_text(&self) -> Result<&Text, &str> {
        let fetched = self.text.get_or_init(|| {
            let fetch = self.fetch.lock().map_or(None, |mut f| f.take());
            let text = fetch.ok_or_else(|| "the dictionary's text was never given".to_string())?()?;
            if text.len() != self.len {
                return Err(format!("{} entries fetched where {} were announced", text.len(), self.len));
            }
            Ok(text)
        });
        fetched.as_ref().map_err(String::as_str)
    }

    /// The text, fetched on first use. A fetch that fails panics naming why: in a guest the host
    /// already vouched for the dictionary when it gave its size, so this is a broken host, not
    /// bad data (the run ends as a trap); a host checks with [`Dictionary::try_text`] first.
    pub fn text(&self) -> &Text {
        self.try_text().unwrap_or_else(|e| panic!("fetching a dictionary: {e}"))
    }
}

impl From<Text> for Dictionary {
    fn from(text: Text) -> Self {
        Dictionary { len: text.len(), text: OnceLock::from(Ok(text)), fetch: Mutex::new(None) }
    }
}

impl std::ops::Deref for Dictionary {
    type Target = Text;
    fn deref(&self) -> &Text {
        self.text()
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.text.get() {
            Some(Ok(text)) => text.fmt(f),
            Some(Err(e)) => write!(f, "Dictionary({} entries, unreadable: {e})", self.len),
            None => write!(f, "Dictionary({} entries, not fetched)", self.len),
        }
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.text() == other.text()
    }
}

/// The values of one column; null slots hold placeholders (see [`Column::validity`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Plain text.
    Text(Text),
    /// Text as indices into a dictionary shared by the whole column.
    Dictionary {
        /// Index of each row's value in `dictionary`.
        indices: Vec<u32>,
        /// The distinct values.
        dictionary: Arc<Dictionary>,
    },
    /// Integers.
    Int64(Vec<i64>),
    /// Floats.
    Float64(Vec<f64>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// Days since 1970-01-01.
    Date(Vec<i32>),
    /// Milliseconds since the epoch.
    Timestamp(Vec<i64>),
}

impl Values {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(t) => t.len(),
            Values::Dictionary { indices, .. } => indices.len(),
            Values::Int64(v) | Values::Timestamp(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::Date(v) => v.len(),
        }
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logical type.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Values::Text(_) | Values::Dictionary { .. } => ColumnType::Text,
            Values::Int64(_) => ColumnType::Int64,
            Values::Float64(_) => ColumnType::Float64,
            Values::Boolean(_) => ColumnType::Boolean,
            Values::Date(_) => ColumnType::Date,
            Values::Timestamp(_) => ColumnType::Timestamp,
        }
    }

    /// Make room for `rows` more rows, so appending batches does not copy the column again and again.
    pub fn reserve(&mut self, rows: usize) {
        match self {
            Values::Text(t) => {
                let per_row = t.byte_len() / t.len().max(1);
                t.reserve(rows, rows * per_row);
            }
            Values::Dictionary { indices, .. } => indices.reserve(rows),
            Values::Int64(v) | Values::Timestamp(v) => v.reserve(rows),
            Values::Float64(v) => v.reserve(rows),
            Values::Boolean(v) => v.reserve(rows),
            Values::Date(v) => v.reserve(rows),
        }
    }

    /// Rows `start..end` as new values (dictionaries are shared, not copied).
    pub fn slice(&self, start: usize, end: usize) -> Values {
        match self {
            Values::Text(t) => Values::Text(t.slice(start, end)),
            Values::Dictionary { indices, dictionary } => {
                Values::Dictionary { indices: indices[start..end].to_vec(), dictionary: dictionary.clone() }
            }
            Values::Int64(v) => Values::Int64(v[start..end].to_vec()),
            Values::Float64(v) => Values::Float64(v[start..end].to_vec()),
            Values::Boolean(v) => Values::Boolean(v[start..end].to_vec()),
            Values::Date(v) => Values::Date(v[start..end].to_vec()),
            Values::Timestamp(v) => Values::Timestamp(v[start..end].to_vec()),
        }
    }

    /// The values at `rows`, in that order (a row may repeat); a dictionary column's come as
    /// plain text, decoded. Panics if a row is out of range, like slice indexing: callers that
    /// take rows from elsewhere check them first.
    pub fn gather(&self, rows: &[u32]) -> Values {
        fn pick<T: Copy>(values: &[T], rows: &[u32]) -> Vec<T> {
            rows.iter().map(|&r| values[r as usize]).collect()
        }
        let text = |t: &Text, value_at: &dyn Fn(usize) -> usize| {
            let mut out = Text::new();
            out.reserve(rows.len(), rows.iter().map(|&r| t.get(value_at(r as usize)).len()).sum());
            rows.iter().for_each(|&r| out.push(t.get(value_at(r as usize))));
            out
        };
        match self {
            Values::Text(t) => Values::Text(text(t, &|row| row)),
            Values::Dictionary { indices, dictionary } => {
                Values::Text(text(dictionary, &|row| indices[row] as usize))
            }
            Values::Int64(v) => Values::Int64(pick(v, rows)),
            Values::Float64(v) => Values::Float64(pick(v, rows)),
            Values::Boolean(v) => Values::Boolean(pick(v, rows)),
            Values::Date(v) => Values::Date(pick(v, rows)),
            Values::Timestamp(v) => Values::Timestamp(pick(v, rows)),
        }
    }

    /// The bytes [`Values::gather`] makes for `rows` (text: its bytes and offsets), without
    /// making them: what a host reserves and charges before it gathers. Panics if a row is out of
    /// range.
    pub fn gathered_bytes(&self, rows: &[u32]) -> usize {
        let text = |t: &Text, value_at: &dyn Fn(usize) -> usize| {
            let (_, offsets) = t.raw();
            let value = |r: u32| {
                let i = value_at(r as usize);
                (offsets[i + 1] - offsets[i]) as usize
            };
            rows.iter().map(|&r| value(r)).sum::<usize>() + (rows.len() + 1) * 4
        };
        match self {
            Values::Text(t) => text(t, &|row| row),
            Values::Dictionary { indices, dictionary } => text(dictionary, &|row| indices[row] as usize),
            Values::Int64(_) | Values::Float64(_) | Values::Timestamp(_) => rows.len() * 8,
            Values::Date(_) => rows.len() * 4,
            Values::Boolean(_) => rows.len(),
        }
    }

    /// Append `other`, which must be of the same kind; returns false if it is not.
    pub fn extend(&mut self, other: &Values) -> bool {
        match (self, other) {
            (Values::Text(a), Values::Text(b)) => a.extend(b),
            (
                Values::Dictionary { indices: a, dictionary: da },
                Values::Dictionary { indices: b, dictionary: db },
            ) if Arc::ptr_eq(da, db) || da == db => a.extend_from_slice(b),
            (Values::Int64(a), Values::Int64(b)) | (Values::Timestamp(a), Values::Timestamp(b)) => {
                a.extend_from_slice(b)
            }
            (Values::Float64(a), Values::Float64(b)) => a.extend_from_slice(b),
            (Values::Boolean(a), Values::Boolean(b)) => a.extend_from_slice(b),
            (Values::Date(a), Values::Date(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }
}

/// One named column: values plus an optional validity bitmap (`None`: no nulls).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// The values.
    pub values: Values,
    /// Validity bitmap; `None` means every row is valid.
    pub validity: Option<Bitmap>,
}

impl Column {
    /// A column without nulls.
    pub fn new(name: &str, values: Values) -> Self {
        Column { name: name.to_string(), values, validity: None }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether row `i` holds a value.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.as_ref().is_none_or(|v| v.is_valid(i))
    }

    /// Rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Column {
        Column {
            name: self.name.clone(),
            values: self.values.slice(start, end),
            validity: self.validity.as_ref().map(|v| v.slice(start, end)),
        }
    }

    /// The rows `rows`, in that order, text decoded (see [`Values::gather`]); no validity
    /// bitmap when none of them is null. Panics if a row is out of range.
    pub fn gather(&self, rows: &[u32]) -> Column {
        let validity = self.validity.as_ref().and_then(|v| {
            let any_null = rows.iter().any(|&r| !v.is_valid(r as usize));
            any_null.then(|| Bitmap::from_flags(rows.iter().map(|&r| v.is_valid(r as usize))))
        });
        Column { name: self.name.clone(), values: self.values.gather(rows), validity }
    }

    /// Append the rows of `other` (same kind of values). Returns false on a kind mismatch.
    pub fn extend(&mut self, other: &Column) -> bool {
        let before = self.len();
        if !self.values.extend(&other.values) {
            return false;
        }
        if self.validity.is_some() || other.validity.is_some() {
            let all_valid = |n: usize| Bitmap::from_flags((0..n).map(|_| true));
            let mut merged = self.validity.take().unwrap_or_else(|| all_valid(before));
            match &other.validity {
                Some(bits) => merged.extend(bits),
                None => merged.extend(&all_valid(other.len())),
            }
            self.validity = Some(merged);
        }
        true
    }
}

/// A run of consecutive rows of one table, projected to some columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Index of the first row in the table.
    pub start: u64,
    /// Number of rows.
    pub len: usize,
    /// The columns, in the order requested.
    pub columns: Vec<Column>,
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parse an ISO `YYYY-MM-DD` date into days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = text[0..4].parse().ok()?;
    let month: u32 = text[5..7].parse().ok()?;
    let day: u32 = text[8..10].parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Format days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parse an ISO `YYYY-MM-DDTHH:MM:SS` UTC timestamp (optional trailing `Z`) into epoch ms.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    if text.len() != 19 || !matches!(text.as_bytes()[10], b'T' | b' ') {
        return None;
    }
    let days = parse_date(&text[..10])? as i64;
    let t = text.as_bytes();
    if t[13] != b':' || t[16] != b':' {
        return None;
    }
    let h: i64 = text[11..13].parse().ok()?;
    let mi: i64 = text[14..16].parse().ok()?;
    let s: i64 = text[17..19].parse().ok()?;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000)
}

/// Format epoch ms as `YYYY-MM-DDTHH:MM:SS`.
pub fn format_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}", format_date(days as i32), rem / 3600, rem / 60 % 60, rem % 60)
}

/// Milliseconds in one day, for converting timestamps to dates.
pub const MS_PER_DAY: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_reject_impossible_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(format_date(11_017), "2000-03-01");
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-02-29").map(format_date).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2024-2-9"), None);
        for d in [-800, -1, 0, 59, 10_000, 20_000, 40_000] {
            assert_eq!(parse_date(&format_date(d)), Some(d));
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let ms = parse_timestamp("2021-06-30T23:59:58").expect("valid");
        assert_eq!(format_timestamp(ms), "2021-06-30T23:59:58");
        assert_eq!(parse_timestamp("2021-06-30T24:00:00"), None);
    }

    #[test]
    fn text_slices_and_extends_with_rebased_offsets() {
        let t: Text = ["ab", "", "cde", "fé"].into_iter().collect();
        let s = t.slice(1, 4);
        assert_eq!((s.get(0), s.get(1), s.get(2)), ("", "cde", "fé"));
        let mut a = t.slice(0, 1);
        a.extend(&s);
        assert_eq!(a.len(), 4);
        assert_eq!(a.get(3), "fé");
        assert!(Text::from_parts(vec![0xC3, 0xA9], vec![0, 1, 2]).is_err());
    }

    #[test]
    fn host_text_is_checked_for_shape_and_a_bad_offset_panics_rather_than_misreads() {
        let t = Text::from_host("abfé".into(), vec![0, 2, 5]).expect("well formed");
        assert_eq!((t.get(0), t.get(1)), ("ab", "fé"));
        assert!(Text::from_host("ab".into(), vec![1, 2]).is_err(), "must start at 0");
        assert!(Text::from_host("ab".into(), vec![0, 1]).is_err(), "must end at the length");
        // Inside a character: not checked up front, but reading it panics (checked slicing).
        let bad = Text::from_host("fé".into(), vec![0, 2, 3]).expect("shape is fine");
        assert!(std::panic::catch_unwind(|| bad.get(0).len()).is_err());
        let backwards = Text::from_host("abc".into(), vec![0, 2, 1, 3]).expect("shape is fine");
        assert!(std::panic::catch_unwind(|| backwards.get(1).len()).is_err(), "an end before its start");
    }

    #[test]
    fn gather_keeps_order_and_repeats_decodes_dictionaries_and_counts_its_bytes() {
        let dictionary: Text = ["shop-a", "shop-bé"].into_iter().collect();
        let coded = Values::Dictionary { indices: vec![1, 0, 1, 1], dictionary: Arc::new(dictionary.into()) };
        let plain = Values::Text(["x", "", "yz", "w"].into_iter().collect());
        let rows = [3, 0, 3, 1];
        for (values, want) in
            [(&coded, ["shop-bé", "shop-bé", "shop-bé", "shop-a"]), (&plain, ["w", "x", "w", ""])]
        {
            let Values::Text(got) = values.gather(&rows) else { panic!("gathered text must be plain") };
            assert_eq!((0..4).map(|i| got.get(i)).collect::<Vec<_>>(), want);
            let (bytes, offsets) = got.raw();
            assert_eq!(values.gathered_bytes(&rows), bytes.len() + offsets.len() * 4, "{want:?}");
        }
        let ints = Values::Int64(vec![10, 20, 30]);
        assert!(matches!(ints.gather(&[2, 2]), Values::Int64(v) if v == [30, 30]));
        assert_eq!(ints.gathered_bytes(&[2, 2]), 16);

        let column = Column {
            name: "n".into(),
            values: ints,
            validity: Some(Bitmap::from_flags([true, false, true])),
        };
        assert!(column.gather(&[0, 2]).validity.is_none(), "no null among the rows: no bitmap");
        let with_null = column.gather(&[2, 1, 0]).validity.expect("row 1 is null");
        assert_eq!((0..3).map(|i| with_null.is_valid(i)).collect::<Vec<_>>(), [true, false, true]);
        assert!(std::panic::catch_unwind(|| column.gather(&[3])).is_err(), "a row past the end panics");
    }

    #[test]
    fn a_lazy_dictionary_fetches_its_text_once_on_first_use_and_never_for_its_size() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let lazy = Dictionary::lazy(
            2,
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(["p1", "张三"].into_iter().collect())
            }),
        );
        assert_eq!((lazy.len(), lazy.is_fetched()), (2, false));
        assert!(format!("{lazy:?}").contains("not fetched"));
        let column = Column::new("k", Values::Dictionary { indices: vec![1, 0], dictionary: Arc::new(lazy) });
        let sliced = column.slice(1, 2);
        assert_eq!(fetches.load(Ordering::SeqCst), 0, "sizing and slicing fetch nothing");
        let Values::Dictionary { dictionary, .. } = &sliced.values else { panic!("still coded") };
        assert_eq!((dictionary.get(1), dictionary.get(0)), ("张三", "p1"));
        assert!(dictionary.is_fetched());
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "fetched once, for both handles");

        let short = Dictionary::lazy(3, Box::new(|| Ok(["only"].into_iter().collect())));
        assert_eq!(short.try_text(), Err("1 entries fetched where 3 were announced"));
        assert!(std::panic::catch_unwind(|| short.get(0).len()).is_err(), "reading it panics");
        let refused = Dictionary::lazy(1, Box::new(|| Err("the host said no".into())));
        assert_eq!(refused.try_text(), Err("the host said no"), "and says so again");
        assert_eq!(refused.try_text(), Err("the host said no"));
    }

    #[test]
    fn bitmap_slices_at_any_offset() {
        let b = Bitmap::from_flags((0..20).map(|i| i % 3 != 0));
        let s = b.slice(5, 17);
        for i in 0..12 {
            assert_eq!(s.is_valid(i), (i + 5) % 3 != 0);
        }
        assert_eq!(b.slice(8, 16).null_count(), 3);
        for (start, end) in [(0, 20), (3, 20), (0, 13), (5, 6), (8, 8)] {
            let s = b.slice(start, end);
            assert_eq!(s.null_count(), (0..s.len()).filter(|&i| !s.is_valid(i)).count(), "{start}..{end}");
        }
        // Bits past the end are not rows: set or clear, they count for nothing.
        assert_eq!(Bitmap::from_bytes(vec![0xFF, 0xFF], 10).null_count(), 0);
        assert_eq!(Bitmap::from_bytes(vec![0x00, 0xFC], 10).null_count(), 10);
        let mut joined = b.slice(0, 16);
        joined.extend(&b.slice(16, 20));
        let mut odd = b.slice(0, 5);
        odd.extend(&b.slice(5, 20));
        for i in 0..20 {
            assert_eq!((joined.is_valid(i), odd.is_valid(i)), (b.is_valid(i), b.is_valid(i)), "row {i}");
        }
    }
}

/// Builds a typed column from text cells (CSV conventions of DOMAIN.md: empty cell = null).
#[derive(Debug)]
pub struct ColumnBuilder {
    name: String,
    values: Values,
    validity: Bitmap,
    has_null: bool,
}

impl ColumnBuilder {
    /// A builder for column `name` of type `ty`.
    pub fn new(name: &str, ty: ColumnType) -> Self {
        let values = match ty {
            ColumnType::Text => Values::Text(Text::new()),
            ColumnType::Int64 => Values::Int64(Vec::new()),
            ColumnType::Float64 => Values::Float64(Vec::new()),
            ColumnType::Boolean => Values::Boolean(Vec::new()),
            ColumnType::Date => Values::Date(Vec::new()),
            ColumnType::Timestamp => Values::Timestamp(Vec::new()),
        };
        ColumnBuilder { name: name.to_string(), values, validity: Bitmap::default(), has_null: false }
    }

    /// Append a null.
    pub fn push_null(&mut self) {
        match &mut self.values {
            Values::Text(t) => t.push(""),
            Values::Dictionary { indices, .. } => indices.push(0),
            Values::Int64(v) | Values::Timestamp(v) => v.push(0),
            Values::Float64(v) => v.push(0.0),
            Values::Boolean(v) => v.push(false),
            Values::Date(v) => v.push(0),
        }
        self.validity.push(false);
        self.has_null = true;
    }

    /// Parse and append one cell; an empty cell is null. The error says what was expected.
    pub fn push_cell(&mut self, cell: &str) -> Result<(), String> {
        if cell.is_empty() {
            self.push_null();
            return Ok(());
        }
        // The error names what was expected, never the cell's text: the place (file, line,
        // column) is enough to find it, and a message must not carry data out of a file.
        let bad = |what: &str| format!("expected {what}, found a {}-byte value", cell.len());
        match &mut self.values {
            Values::Text(t) => t.push(cell),
            Values::Dictionary { .. } => return Err("dictionary columns are not built from cells".into()),
            Values::Int64(v) => v.push(cell.trim().parse().map_err(|_| bad("an integer"))?),
            Values::Float64(v) => match cell.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => v.push(x),
                _ => return Err(bad("a number")),
            },
            Values::Boolean(v) => v.push(match cell.trim() {
                "true" => true,
                "false" => false,
                _ => return Err(bad("true or false")),
            }),
            Values::Date(v) => v.push(parse_date(cell.trim()).ok_or_else(|| bad("a date YYYY-MM-DD"))?),
            Values::Timestamp(v) => {
                v.push(parse_timestamp(cell.trim()).ok_or_else(|| bad("a timestamp YYYY-MM-DDTHH:MM:SS"))?)
            }
        }
        self.validity.push(true);
        Ok(())
    }

    /// The finished column (no bitmap if nothing was null).
    pub fn finish(self) -> Column {
        Column {
            name: self.name,
            values: self.values,
            validity: if self.has_null { Some(self.validity) } else { None },
        }
    }
}
