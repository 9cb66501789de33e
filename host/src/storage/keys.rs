//! The registry's secret keys: files under `<home>/keys/`, 0600, made on first use by the
//! registry's owner and readable by nobody else.

use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use super::StorageError;

/// The key named `name` (`len` random bytes), created if it does not exist yet.
pub fn load_or_create(home: &Path, name: &str, len: usize) -> Result<Vec<u8>, StorageError> {
    let dir = home.join("keys");
    let path = dir.join(name);
    let io =
        |e: std::io::Error| StorageError::Io { path: path.display().to_string(), message: e.to_string() };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
    if !path.exists() {
        let mut key = vec![0u8; len];
        getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e.to_string())))?;
        // Written whole beside the final name, then linked into place: a racing process either
        // links first (and this one reads its key) or finds nothing half-written.
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
        tmp.write_all(&key).and_then(|()| tmp.as_file().sync_all()).map_err(io)?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => return Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let key = std::fs::read(&path).map_err(io)?;
    if key.len() != len {
        return Err(io(std::io::Error::other(format!(
            "the key is {} bytes, not {len}: restore it from the backup",
            key.len()
        ))));
    }
    Ok(key)
}
