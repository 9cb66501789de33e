//! sha256 digests: a plugin is its digest, written `sha256:<hex>`; and the BLAKE3 check digests an
//! encoding keeps beside its column files' names (`blake3:<hex>`), for runs to check them faster.

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// `sha256:<hex>` of the file at `path`, read through one small buffer: hashing a large file
/// (the SQL engine, 65 MB) this way touches no fresh memory, where reading it whole first
/// faulted in a page for every 4 KiB and took longer than the hashing.
pub fn digest_of_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let (mut hasher, mut buffer) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(digest_of_hasher(hasher)),
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `sha256:<hex>` of what `hasher` was fed (bytes hashed as they streamed past).
pub fn digest_of_hasher(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// How a BLAKE3 check digest is written: `blake3:<hex>`.
const BLAKE3_PREFIX: &str = "blake3:";

/// `blake3:<hex>` of `bytes`.
pub fn blake3_of(bytes: &[u8]) -> String {
    let mut hasher = Hasher::Blake3(Box::default());
    hasher.update(bytes);
    hasher.finish()
}

/// A digest computed as bytes stream past, in the algorithm of the digest they are held to: a
/// blob's name (`sha256:<hex>`), or the check digest an encoding keeps beside a column file's name
/// (`blake3:<hex>`), which this machine computes about three times as fast (`sieve bench`'s
/// start-up table). Both are cryptographic: a blob altered on disk matches neither.
pub enum Hasher {
    /// For `sha256:<hex>`.
    Sha256(Sha256),
    /// For `blake3:<hex>` (boxed: the hasher keeps a stack of chaining values).
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// A hasher whose [`Hasher::finish`] is comparable with `expected`.
    pub fn like(expected: &str) -> Hasher {
        if expected.starts_with(BLAKE3_PREFIX) {
            Hasher::Blake3(Box::default())
        } else {
            Hasher::Sha256(Sha256::new())
        }
    }

    /// Feed `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The digest of what was fed, written as the digest it is held to.
    pub fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => digest_of_hasher(h),
            Hasher::Blake3(h) => format!("{BLAKE3_PREFIX}{}", h.finalize().to_hex()),
        }
    }
}

/// Normalise a user-given digest (`sha256:<hex>` or bare hex) to `sha256:<hex>`; errors name the problem.
pub fn parse_digest(text: &str) -> Result<String, String> {
    let hex_part = text.strip_prefix("sha256:").unwrap_or(text).to_ascii_lowercase();
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a sha256 digest (expected sha256: and 64 hex digits)"));
    }
    Ok(format!("sha256:{hex_part}"))
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Whether two byte strings are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_streamed_through_the_buffer_has_the_digest_of_its_bytes() {
        // Longer than the buffer and not a multiple of it; the empty file too.
        let bytes: Vec<u8> = (0..(5u32 << 19) + 7).map(|i| (i % 251) as u8).collect();
        for content in [&bytes[..], &[]] {
            let file = tempfile::NamedTempFile::new().expect("temp file");
            std::fs::write(file.path(), content).expect("write");
            assert_eq!(digest_of_file(file.path()).expect("readable"), digest_of(content));
        }
        let missing = std::path::Path::new("/nonexistent/sql-engine.wasm");
        assert!(digest_of_file(missing).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(&[0xaa; 131], &[b"Test Using Larger Than Block-Size Key - Hash Key First"]);
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn a_hasher_computes_the_algorithm_of_the_digest_it_is_held_to() {
        // BLAKE3's published digest of the empty input.
        let empty = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        assert_eq!(blake3_of(b""), empty);
        for (expected, bytes) in [(blake3_of(b"column"), b"column"), (digest_of(b"column"), b"column")] {
            let mut hasher = Hasher::like(&expected);
            hasher.update(&bytes[..3]);
            hasher.update(&bytes[3..]);
            assert_eq!(hasher.finish(), expected);
        }
    }
}
