//! The run-time column format: one column per blob, laid out as the host serves it (little-endian
//! arrays, text as offsets and bytes), so that a run copies a declared column's bytes instead of
//! decoding a whole Parquet table. Written at import beside the canonical Parquet tables.
//!
//! Layout: the magic `SVCOL01\n`, a kind byte, a validity flag byte, six zero bytes, the row count
//! (u64), the validity bitmap when flagged (`ceil(rows / 8)` bytes), then the values:
//! 8 bytes a row for integers, floats and timestamps, 4 for dates and codes, 1 for booleans;
//! text as `rows + 1` u32 offsets, a u64 byte length and the UTF-8 bytes; a dictionary column as its
//! codes followed by its dictionary as text. Every size is checked against the blob's length
//! before anything is allocated, so a malformed blob is an error, never a panic.

use std::io::{Read, Write};
use std::sync::Arc;

use sieve_sdk::data::{Bitmap, Text, Values};

use crate::digest::Hasher;

const MAGIC: &[u8; 8] = b"SVCOL01\n";
const HEADER: usize = 24;

/// What a column blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Int64 = 1,
    Float64 = 2,
    Boolean = 3,
    Date = 4,
    Timestamp = 5,
    Text = 6,
    Dictionary = 7,
    /// Codes into a dictionary stored elsewhere (a key domain's).
    Codes = 8,
}

/// A column blob's values.
#[derive(Debug)]
pub enum Stored {
    /// Values of one of the contract's types.
    Values(Values),
    /// Codes into a key domain's dictionary.
    Codes(Vec<u32>),
}

/// Why a column blob could not be read.
#[derive(Debug, thiserror::Error)]
#[error("column file {label}: {message}")]
pub struct ColumnFileError {
    label: String,
    message: String,
}

/// Where a column blob's bytes go, in order: a buffer when one is written, a hasher when the
/// values a run was served are checked against the blob they were read from.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Hasher {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// A [`Sink`] over a writer: the first error is kept, and what comes after it is dropped.
struct WriteSink<'a, W: Write> {
    out: &'a mut W,
    error: Option<std::io::Error>,
}

impl<W: Write> Sink for WriteSink<'_, W> {
    fn put(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(bytes)
        {
            self.error = Some(e);
        }
    }
}

/// Write through a [`WriteSink`] over `out`, and report its first error.
fn write_with<W: Write>(out: &mut W, put: impl FnOnce(&mut WriteSink<'_, W>)) -> std::io::Result<()> {
    let mut sink = WriteSink { out, error: None };
    put(&mut sink);
    sink.error.map_or(Ok(()), Err)
}

/// Write the blob of `values` with `validity` to `out`.
pub fn write(out: &mut impl Write, values: &Values, validity: Option<&Bitmap>) -> std::io::Result<()> {
    write_with(out, |sink| put_values(sink, values, validity))
}

/// The digest, in the algorithm of `like` (see [`Hasher`]), of the blob [`write`] makes of
/// `values` with `validity`: a column read with [`read_from`] hashes to its blob's digest exactly
/// when it holds what that blob held.
pub fn digest(like: &str, values: &Values, validity: Option<&Bitmap>) -> String {
    let mut hasher = Hasher::like(like);
    put_values(&mut hasher, values, validity);
    hasher.finish()
}

fn put_values(out: &mut impl Sink, values: &Values, validity: Option<&Bitmap>) {
    let (kind, rows) = match values {
        Values::Int64(v) => (Kind::Int64, v.len()),
        Values::Float64(v) => (Kind::Float64, v.len()),
        Values::Boolean(v) => (Kind::Boolean, v.len()),
        Values::Date(v) => (Kind::Date, v.len()),
        Values::Timestamp(v) => (Kind::Timestamp, v.len()),
        Values::Text(t) => (Kind::Text, t.len()),
        Values::Dictionary { indices, .. } => (Kind::Dictionary, indices.len()),
    };
    put_header(out, kind, rows, validity);
    match values {
        Values::Int64(v) | Values::Timestamp(v) => put_array(out, v),
        Values::Float64(v) => put_array(out, v),
        Values::Boolean(v) => {
            for chunk in v.chunks(1 << 16) {
                out.put(&chunk.iter().map(|&b| b as u8).collect::<Vec<u8>>());
            }
        }
        Values::Date(v) => put_array(out, v),
        Values::Text(t) => put_text(out, t),
        Values::Dictionary { indices, dictionary } => {
            put_array(out, indices);
            out.put(&(dictionary.len() as u64).to_le_bytes());
            put_text(out, dictionary);
        }
    }
}

/// Write the blob of codes into a key domain's dictionary, with `validity`, to `out`.
pub fn write_codes(out: &mut impl Write, codes: &[u32], validity: Option<&Bitmap>) -> std::io::Result<()> {
    write_with(out, |sink| {
        put_header(sink, Kind::Codes, codes.len(), validity);
        put_array(sink, codes);
    })
}

/// The digest of the blob [`write_codes`] makes.
pub fn digest_of_codes(like: &str, codes: &[u32], validity: Option<&Bitmap>) -> String {
    let mut hasher = Hasher::like(like);
    put_header(&mut hasher, Kind::Codes, codes.len(), validity);
    put_array(&mut hasher, codes);
    hasher.finish()
}

/// Write the blob of a dictionary (its values as a text column without nulls) to `out`.
pub fn write_text(out: &mut impl Write, text: &Text) -> std::io::Result<()> {
    write_with(out, |sink| {
        put_header(sink, Kind::Text, text.len(), None);
        put_text(sink, text);
    })
}

/// The digest of the blob [`write_text`] makes.
pub fn digest_of_text(like: &str, text: &Text) -> String {
    let mut hasher = Hasher::like(like);
    put_header(&mut hasher, Kind::Text, text.len(), None);
    put_text(&mut hasher, text);
    hasher.finish()
}

fn put_header(out: &mut impl Sink, kind: Kind, rows: usize, validity: Option<&Bitmap>) {
    let mut head = [0u8; HEADER];
    head[..8].copy_from_slice(MAGIC);
    head[8] = kind as u8;
    head[9] = validity.is_some() as u8;
    head[16..].copy_from_slice(&(rows as u64).to_le_bytes());
    out.put(&head);
    if let Some(v) = validity {
        let bytes = v.as_bytes();
        let wanted = rows.div_ceil(8);
        out.put(&bytes[..wanted.min(bytes.len())]);
        out.put(&vec![0; wanted.saturating_sub(bytes.len())]);
    }
}

fn put_text(out: &mut impl Sink, text: &Text) {
    let (bytes, offsets) = text.raw();
    put_array(out, offsets);
    out.put(&(bytes.len() as u64).to_le_bytes());
    out.put(bytes.as_bytes());
}

/// `values` as little-endian bytes: their own memory on a little-endian machine.
fn put_array<T: LittleEndian>(out: &mut impl Sink, values: &[T]) {
    if cfg!(target_endian = "little") {
        out.put(bytemuck::cast_slice(values));
    } else {
        for chunk in values.chunks(1 << 14) {
            let swapped: Vec<T> = chunk.iter().map(|&v| T::from_le(v)).collect();
            out.put(bytemuck::cast_slice(&swapped));
        }
    }
}

/// A value stored as little-endian bytes that any bit pattern makes valid, so a column of them
/// is read straight into its vector.
trait LittleEndian: bytemuck::Pod {
    /// The value whose little-endian bytes `stored`'s memory held (swapping bytes is its own
    /// inverse, so this also gives the value's little-endian form).
    fn from_le(stored: Self) -> Self;
}

impl LittleEndian for u32 {
    fn from_le(stored: Self) -> Self {
        u32::from_le(stored)
    }
}
impl LittleEndian for i32 {
    fn from_le(stored: Self) -> Self {
        i32::from_le(stored)
    }
}
impl LittleEndian for i64 {
    fn from_le(stored: Self) -> Self {
        i64::from_le(stored)
    }
}
impl LittleEndian for f64 {
    fn from_le(stored: Self) -> Self {
        f64::from_bits(u64::from_le(stored.to_bits()))
    }
}

/// Reads a blob front to back into the buffers it returns, every length checked against what is
/// left before anything is allocated for it.
struct Reader<'a, R> {
    source: R,
    left: usize,
    label: &'a str,
}

impl<R: Read> Reader<'_, R> {
    fn fail(&self, message: impl Into<String>) -> ColumnFileError {
        ColumnFileError { label: self.label.to_string(), message: message.into() }
    }

    /// Fill `buf` with the next bytes.
    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<(), ColumnFileError> {
        if buf.len() > self.left {
            return Err(self.fail(format!("{what} needs {} bytes, {} are left", buf.len(), self.left)));
        }
        self.source.read_exact(buf).map_err(|e| self.fail(format!("{what}: {e}")))?;
        self.left -= buf.len();
        Ok(())
    }

    fn take(&mut self, n: usize, what: &str) -> Result<Vec<u8>, ColumnFileError> {
        if n > self.left {
            return Err(self.fail(format!("{what} needs {n} bytes, {} are left", self.left)));
        }
        let mut out = vec![0; n];
        self.fill(&mut out, what)?;
        Ok(out)
    }

    fn u64(&mut self, what: &str) -> Result<usize, ColumnFileError> {
        let mut raw = [0; 8];
        self.fill(&mut raw, what)?;
        let n = u64::from_le_bytes(raw);
        usize::try_from(n).map_err(|_| self.fail(format!("{what} {n} is too large")))
    }

    /// `count` little-endian values, read into their vector in place.
    fn array<T: LittleEndian>(&mut self, count: usize, what: &str) -> Result<Vec<T>, ColumnFileError> {
        let size = count
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&size| size <= self.left)
            .ok_or_else(|| self.fail(format!("{what}: {count} values, {} bytes are left", self.left)))?;
        let mut values = vec![T::zeroed(); count];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        debug_assert_eq!(bytes.len(), size);
        self.fill(bytes, what)?;
        // A no-op on little-endian machines, which the compiler drops.
        values.iter_mut().for_each(|v| *v = T::from_le(*v));
        Ok(values)
    }

    fn text(&mut self, count: usize, what: &str) -> Result<Text, ColumnFileError> {
        let entries = count.checked_add(1).ok_or_else(|| self.fail(what))?;
        let offsets = self.array(entries, what)?;
        let length = self.u64(what)?;
        let bytes = self.take(length, what)?;
        // Validated with SIMD (a run's text columns are tens of MB, and std's check was 6% of a T1
        // stored run's time), then taken as the `String` it is proven to be.
        if simdutf8::basic::from_utf8(&bytes).is_err() {
            return Err(self.fail(format!("{what}: the text is not UTF-8")));
        }
        // SAFETY: `bytes` was just checked to be UTF-8.
        let bytes = unsafe { String::from_utf8_unchecked(bytes) };
        Text::from_string(bytes, offsets).map_err(|e| self.fail(format!("{what}: {e}")))
    }
}

/// Read a dictionary: a text column without nulls, of however many values it holds.
pub fn read_text(bytes: &[u8], label: &str) -> Result<Text, ColumnFileError> {
    read_text_from(bytes, bytes.len(), label)
}

/// [`read_text`] from `source`, which holds `len` bytes.
pub fn read_text_from(source: impl Read, len: usize, label: &str) -> Result<Text, ColumnFileError> {
    match read_from(source, len, None, label)? {
        (Stored::Values(Values::Text(text)), None) => Ok(text),
        _ => Err(ColumnFileError { label: label.to_string(), message: "not a dictionary".into() }),
    }
}

/// How many entries a stored dictionary (a text blob) holds, from its header alone: what a run
/// checks codes against before the dictionary itself is read. The blob is not hashed here; the
/// header is part of what is hashed when the dictionary is read, and a run whose dictionary does
/// not match its digest fails.
pub fn text_entries(mut source: impl Read, label: &str) -> Result<usize, ColumnFileError> {
    let fail = |message: &str| ColumnFileError { label: label.to_string(), message: message.to_string() };
    let mut head = [0u8; HEADER];
    source.read_exact(&mut head).map_err(|_| fail("shorter than its header"))?;
    if &head[..8] != MAGIC {
        return Err(fail("not a Sieve column file"));
    }
    if head[8] != Kind::Text as u8 || head[9] != 0 {
        return Err(fail("not a dictionary"));
    }
    let entries = u64::from_le_bytes(head[16..HEADER].try_into().unwrap_or([0xff; 8]));
    usize::try_from(entries).map_err(|_| fail("too many entries"))
}

/// Read a column blob of `rows` rows (`label` names it in errors).
pub fn read(bytes: &[u8], rows: usize, label: &str) -> Result<(Stored, Option<Bitmap>), ColumnFileError> {
    read_from(bytes, bytes.len(), Some(rows), label)
}

/// [`read`] from `source`, which holds `len` bytes: each section is read straight into the vector
/// that keeps it. `rows` is what the blob must hold (`None`: whatever its header says).
pub fn read_from(
    source: impl Read,
    len: usize,
    rows: Option<usize>,
    label: &str,
) -> Result<(Stored, Option<Bitmap>), ColumnFileError> {
    let mut r = Reader { source, left: len, label };
    let mut head = [0u8; HEADER];
    r.fill(&mut head, "the header")?;
    if &head[..8] != MAGIC {
        return Err(r.fail("not a Sieve column file"));
    }
    let (kind, flagged) = (head[8], head[9]);
    let stored_rows = u64::from_le_bytes(head[16..HEADER].try_into().unwrap_or([0xff; 8]));
    let stored_rows = usize::try_from(stored_rows).map_err(|_| r.fail("too many rows"))?;
    let rows = rows.unwrap_or(stored_rows);
    if stored_rows != rows {
        return Err(r.fail(format!("does not hold the table's {rows} rows")));
    }
    let validity = match flagged {
        0 => None,
        1 => Some(Bitmap::from_bytes(r.take(rows.div_ceil(8), "the validity bitmap")?, rows)),
        other => return Err(r.fail(format!("validity flag {other}"))),
    };
    let stored = match kind {
        k if k == Kind::Int64 as u8 => Stored::Values(Values::Int64(r.array(rows, "integers")?)),
        k if k == Kind::Float64 as u8 => Stored::Values(Values::Float64(r.array(rows, "floats")?)),
        k if k == Kind::Boolean as u8 => {
            let bytes = r.take(rows, "booleans")?;
            Stored::Values(Values::Boolean(bytes.into_iter().map(|b| b != 0).collect()))
        }
        k if k == Kind::Date as u8 => Stored::Values(Values::Date(r.array(rows, "dates")?)),
        k if k == Kind::Timestamp as u8 => Stored::Values(Values::Timestamp(r.array(rows, "timestamps")?)),
        k if k == Kind::Text as u8 => Stored::Values(Values::Text(r.text(rows, "text")?)),
        k if k == Kind::Dictionary as u8 => {
            let indices: Vec<u32> = r.array(rows, "codes")?;
            let size = r.u64("the dictionary's size")?;
            let dictionary = r.text(size, "the dictionary")?;
            if indices.iter().any(|&c| c as usize >= size.max(1)) {
                return Err(r.fail(format!("a code outside its dictionary of {size}")));
            }
            Stored::Values(Values::Dictionary { indices, dictionary: Arc::new(dictionary.into()) })
        }
        k if k == Kind::Codes as u8 => Stored::Codes(r.array(rows, "codes")?),
        other => return Err(r.fail(format!("unknown kind {other}"))),
    };
    if r.left != 0 {
        return Err(r.fail(format!("{} bytes after the values", r.left)));
    }
    Ok((stored, validity))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob written to memory.
    fn written(write_to: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Vec<u8> {
        let mut out = Vec::new();
        write_to(&mut out).expect("writes to memory");
        out
    }

    fn round_trip(values: Values, validity: Option<Bitmap>) {
        let rows = values.len();
        let blob = written(|out| write(out, &values, validity.as_ref()));
        let (back, valid) = read(&blob, rows, "t.c").expect("reads");
        match back {
            Stored::Values(v) => {
                assert_eq!(format!("{v:?}"), format!("{values:?}"));
                // What a run checks after serving the column: the digest of the blob it came from,
                // by its name or by its BLAKE3 check digest.
                for expected in [crate::digest::digest_of(&blob), crate::digest::blake3_of(&blob)] {
                    assert_eq!(digest(&expected, &v, valid.as_ref()), expected);
                }
            }
            Stored::Codes(_) => panic!("values came back as codes"),
        }
        assert_eq!(
            valid.map(|v| (0..rows).map(|i| v.is_valid(i)).collect::<Vec<_>>()),
            validity.map(|v| (0..rows).map(|i| v.is_valid(i)).collect::<Vec<_>>())
        );
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        let nulls = Some(Bitmap::from_flags([true, false, true]));
        round_trip(Values::Int64(vec![1, -2, i64::MAX]), nulls.clone());
        round_trip(Values::Float64(vec![0.5, -0.0, 1e300]), None);
        round_trip(Values::Boolean(vec![true, false, true]), nulls.clone());
        round_trip(Values::Date(vec![-719_162, 0, 20_000]), None);
        round_trip(Values::Timestamp(vec![0, 1_700_000_000_000, -1]), nulls.clone());
        round_trip(
            Values::Text(["(2017)浙0102民初49号", "", "浙A·K3P9Q"].into_iter().collect()),
            nulls.clone(),
        );
        let dictionary = Arc::new(["a", "bb"].into_iter().collect::<Text>().into());
        round_trip(Values::Dictionary { indices: vec![1, 0, 1], dictionary }, None);
        let dictionary: Text = ["p1", "", "张三"].into_iter().collect();
        let blob = written(|out| write_text(out, &dictionary));
        let back = read_text(&blob, "domain party").expect("reads");
        assert_eq!((0..3).map(|i| back.get(i)).collect::<Vec<_>>(), ["p1", "", "张三"]);
        for expected in [crate::digest::digest_of(&blob), crate::digest::blake3_of(&blob)] {
            assert_eq!(digest_of_text(&expected, &back), expected);
        }
        assert!(
            read_text(&written(|out| write(out, &Values::Date(vec![1]), None)), "d").is_err(),
            "a date column is no dictionary"
        );
        let codes = written(|out| write_codes(out, &[3, 0, 7], nulls.as_ref()));
        match read(&codes, 3, "t.c").expect("reads") {
            (Stored::Codes(c), valid) => {
                assert_eq!(c, [3, 0, 7]);
                for expected in [crate::digest::digest_of(&codes), crate::digest::blake3_of(&codes)] {
                    assert_eq!(digest_of_codes(&expected, &c, valid.as_ref()), expected);
                }
            }
            (Stored::Values(v), _) => panic!("codes came back as {v:?}"),
        }
    }

    #[test]
    fn a_malformed_blob_is_an_error_naming_it_never_a_panic() {
        let good = written(|out| write(out, &Values::Text(["x", "yz"].into_iter().collect()), None));
        // Every truncation, a wrong row count, trailing bytes, a bad magic, and each byte flipped.
        for cut in 0..good.len() {
            assert!(read(&good[..cut], 2, "t.c").is_err(), "cut at {cut}");
        }
        assert!(read(&good, 3, "t.c").expect_err("wrong rows").to_string().contains("t.c"));
        let mut longer = good.clone();
        longer.push(0);
        assert!(read(&longer, 2, "t.c").is_err());
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = read(&bad, 2, "t.c");
        }
        // A huge stored length is refused before anything is allocated for it.
        let mut huge = good.clone();
        let at = HEADER + 3 * 4;
        huge[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(&huge, 2, "t.c").is_err());
        let dictionary = Arc::new(["a"].into_iter().collect::<Text>().into());
        let mut outside =
            written(|out| write(out, &Values::Dictionary { indices: vec![0, 0], dictionary }, None));
        outside[HEADER] = 5;
        assert!(read(&outside, 2, "t.c").expect_err("outside").to_string().contains("outside"));
        // Text bytes that are not UTF-8 (the last byte of "yz" made a lone continuation byte).
        let mut not_utf8 = good.clone();
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0x80;
        assert!(read(&not_utf8, 2, "t.c").expect_err("not UTF-8").to_string().contains("not UTF-8"));
    }
}
