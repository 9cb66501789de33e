//! sha256 digests: a plugin is its digest, written `sha256:<hex>`.

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Normalise a user-given digest (`sha256:<hex>` or bare hex) to `sha256:<hex>`; errors name the problem.
pub fn parse_digest(text: &str) -> Result<String, String> {
    let hex_part = text.strip_prefix("sha256:").unwrap_or(text).to_ascii_lowercase();
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a sha256 digest (expected sha256: and 64 hex digits)"));
    }
    Ok(format!("sha256:{hex_part}"))
}
