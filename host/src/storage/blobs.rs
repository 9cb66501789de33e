//! Content-addressed blobs, checked against their name on every read: files under the home
//! directory (`blobs/sha256/<hex>`, written atomically), or objects in an S3-compatible store
//! shared by several hosts (`SIEVE_BLOBS=s3://bucket/prefix`, see [`super::s3`]).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::s3::{S3Blobs, S3Location};
use crate::digest::{Hasher, digest_of};

/// Why a blob could not be stored or read back intact.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob has this digest.
    #[error("blob {0} is missing from the store")]
    Missing(String),
    /// The bytes on disk no longer hash to their name.
    #[error("hash-mismatch: blob {expected} now hashes to {actual} (altered on disk)")]
    Mismatch {
        /// The digest it is stored under.
        expected: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// The object store failed, or cannot be reached (after retrying for a while).
    #[error("storage: {0}")]
    Storage(String),
    /// The file system failed.
    #[error("{path}: {message}")]
    Io {
        /// File concerned.
        path: String,
        /// What failed.
        message: String,
    },
}

/// A blob's bytes as [`BlobStore::read_with`] hands them out, hashed on the way.
pub struct HashingReader {
    source: Box<dyn Read + Send>,
    hasher: Hasher,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.source.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// How this process's work files and directories under `tmp/` begin: [`BlobStore::sweep`] reads
/// the process id back.
fn work_prefix() -> String {
    format!("work-{}-", std::process::id())
}

/// A blob as [`BlobStore::put_written`] takes it: written to a work file, hashed on the way.
pub struct BlobWriter<'a> {
    file: std::io::BufWriter<&'a fs::File>,
    hasher: Hasher,
    size: u64,
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The blob store: its backend, and the home directory's `tmp/` for work files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
    tmp: PathBuf,
}

#[derive(Debug, Clone)]
enum Backend {
    /// `blobs/sha256/` under the home directory.
    Local { root: PathBuf },
    /// An S3-compatible object store.
    S3(Arc<S3Blobs>),
}

fn io(path: &Path, e: std::io::Error) -> BlobError {
    BlobError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Why local blob `digest`, at `path`, could not be read: missing, or the file system's error.
fn unreadable(digest: &str, path: &Path, e: std::io::Error) -> BlobError {
    match e.kind() {
        std::io::ErrorKind::NotFound => BlobError::Missing(digest.to_string()),
        _ => io(path, e),
    }
}

impl BlobStore {
    /// The store under `home` (created on first write).
    pub fn new(home: &Path) -> Self {
        BlobStore {
            backend: Backend::Local { root: home.join("blobs").join("sha256") },
            tmp: home.join("tmp"),
        }
    }

    /// The store `SIEVE_BLOBS` names: `s3://bucket/prefix` for an object store (reached with the
    /// settings [`super::s3::S3Settings::from_env`] reads), or, unset, the home directory's.
    pub fn from_env(home: &Path) -> Result<Self, BlobError> {
        match std::env::var("SIEVE_BLOBS") {
            Ok(url) if !url.is_empty() => {
                BlobStore::s3(home, S3Location::parse(&url)?, super::s3::S3Settings::from_env()?)
            }
            _ => Ok(BlobStore::new(home)),
        }
    }

    /// The store in an object store: `location` reached with `settings`; work files under
    /// `home`'s `tmp/`.
    pub fn s3(home: &Path, location: S3Location, settings: super::s3::S3Settings) -> Result<Self, BlobError> {
        let s3 = S3Blobs::connect(location, settings)?;
        Ok(BlobStore { backend: Backend::S3(Arc::new(s3)), tmp: home.join("tmp") })
    }

    /// Where the blobs are, for messages: a directory or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local { root } => root.display().to_string(),
            Backend::S3(s3) => s3.describe(),
        }
    }

    /// Where the local blob `digest` (`sha256:<hex>`) lives.
    fn path(root: &Path, digest: &str) -> PathBuf {
        root.join(digest.trim_start_matches("sha256:"))
    }

    /// Store `bytes`; returns their digest. A local blob is written to a temporary file, synced,
    /// then renamed into place, so a crash leaves either the whole blob or none; an object store
    /// puts an object whole or not at all. Storing existing content is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let digest = digest_of(bytes);
        if self.intact(&digest, bytes.len() as u64)? {
            return Ok(digest);
        }
        let root = match &self.backend {
            Backend::Local { root } => root,
            Backend::S3(s3) => {
                s3.put(&digest, bytes)?;
                return Ok(digest);
            }
        };
        fs::create_dir_all(&self.tmp).map_err(|e| io(&self.tmp, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.tmp).map_err(|e| io(&self.tmp, e))?;
        tmp.write_all(bytes).map_err(|e| io(tmp.path(), e))?;
        // On failure the temporary file is deleted when `tmp` drops; once placed, nothing is left.
        let tmp = tmp.into_temp_path();
        Self::place(root, &tmp, &digest)?;
        let _ = tmp.keep();
        Ok(digest)
    }

    /// Store the blob `write` writes, hashed on its way to a work file, so that no copy of it
    /// is held in memory (a column file of a million rows is tens of MiB); returns its digest
    /// and size.
    /// As with [`BlobStore::put`], a crash leaves the whole blob or none, and storing existing
    /// content is a no-op.
    pub fn put_written(
        &self,
        write: impl FnOnce(&mut BlobWriter<'_>) -> std::io::Result<()>,
    ) -> Result<(String, u64), BlobError> {
        fs::create_dir_all(&self.tmp).map_err(|e| io(&self.tmp, e))?;
        // Named like a scratch directory, so that a killed writer's file is swept too.
        let tmp = tempfile::Builder::new()
            .prefix(&work_prefix())
            .tempfile_in(&self.tmp)
            .map_err(|e| io(&self.tmp, e))?;
        let (digest, size) = {
            let mut writer = BlobWriter {
                file: std::io::BufWriter::with_capacity(1 << 16, tmp.as_file()),
                hasher: Hasher::Sha256(Default::default()),
                size: 0,
            };
            write(&mut writer).and_then(|()| writer.file.flush()).map_err(|e| io(tmp.path(), e))?;
            (writer.hasher.finish(), writer.size)
        };
        // From here on, the work file is deleted when `tmp` drops unless it was moved into place.
        if self.intact(&digest, size)? {
            return Ok((digest, size));
        }
        match &self.backend {
            Backend::Local { root } => {
                let tmp = tmp.into_temp_path();
                Self::place(root, &tmp, &digest)?;
                let _ = tmp.keep();
            }
            Backend::S3(s3) => s3.put_file(&digest, tmp.path(), size)?,
        }
        Ok((digest, size))
    }

    /// Whether blob `digest` (of `size` bytes) is already stored: locally, still hashing to its
    /// name; in an object store, an object of that size under its name (an altered one is caught
    /// when it is read, as the local store catches one altered after this check).
    fn intact(&self, digest: &str, size: u64) -> Result<bool, BlobError> {
        match &self.backend {
            Backend::Local { root } => {
                Ok(fs::read(Self::path(root, digest)).is_ok_and(|b| digest_of(&b) == digest))
            }
            Backend::S3(s3) => Ok(s3.size(digest)? == Some(size)),
        }
    }

    /// Sync `file` and rename it to blob `digest`: a crash leaves either the whole blob or none.
    fn place(root: &Path, file: &Path, digest: &str) -> Result<(), BlobError> {
        fs::create_dir_all(root).map_err(|e| io(root, e))?;
        fs::File::open(file).and_then(|f| f.sync_all()).map_err(|e| io(file, e))?;
        let path = Self::path(root, digest);
        fs::rename(file, &path).map_err(|e| io(&path, e))
    }

    /// Read blob `digest` and check that its bytes still hash to it. The returned bytes are the
    /// ones that were hashed: callers use them, never a second read.
    pub fn get(&self, digest: &str) -> Result<Vec<u8>, BlobError> {
        let bytes = match &self.backend {
            Backend::Local { root } => {
                let path = Self::path(root, digest);
                fs::read(&path).map_err(|e| unreadable(digest, &path, e))?
            }
            Backend::S3(s3) => s3.get(digest)?,
        };
        let actual = digest_of(&bytes);
        if actual != digest {
            return Err(BlobError::Mismatch { expected: digest.to_string(), actual });
        }
        Ok(bytes)
    }

    /// Read blob `digest` through `parse`, which gets a reader of its bytes and their count and
    /// reads them straight into the buffers it keeps (no copy of the whole blob first). Each byte
    /// is hashed as it lands in the caller's buffer, so what is checked is what is kept, whatever
    /// happens to the file meanwhile. `parse`'s result is returned only once the whole blob hashed
    /// to its name; an altered blob is [`BlobError::Mismatch`] even where `parse` failed on it.
    pub fn read_with<T, E>(
        &self,
        digest: &str,
        parse: impl FnOnce(&mut HashingReader, usize) -> Result<T, E>,
    ) -> Result<Result<T, E>, BlobError> {
        self.read_checked_with(digest, digest, parse)
    }

    /// [`BlobStore::read_with`], holding the bytes to `check` instead of their name: a check digest
    /// recorded with the name when the blob was stored (`blake3:<hex>`, see [`Hasher`]), or the
    /// name itself.
    pub fn read_checked_with<T, E>(
        &self,
        digest: &str,
        check: &str,
        parse: impl FnOnce(&mut HashingReader, usize) -> Result<T, E>,
    ) -> Result<Result<T, E>, BlobError> {
        let (source, len) = self.open(digest)?;
        let mut reader = HashingReader { source, hasher: Hasher::like(check) };
        let parsed = parse(&mut reader, len);
        // Whatever `parse` left unread is hashed too: the digest covers the whole blob. A read
        // that failed (the store went away mid-blob) is the error, whatever `parse` made of it.
        std::io::copy(&mut reader, &mut std::io::sink())
            .map_err(|e| BlobError::Storage(format!("{}: blob {digest}: {e}", self.describe())))?;
        let actual = reader.hasher.finish();
        if actual != check {
            return Err(BlobError::Mismatch { expected: check.to_string(), actual });
        }
        Ok(parsed)
    }

    /// [`BlobStore::read_with`] without hashing: for a caller that checks what `parse` kept
    /// against `digest` itself, from what it kept (a run's column files are checked while the
    /// model runs, and nothing the run produced is kept unless they match: see
    /// `registry::encodings::load_tables`). When `parse` fails, the blob is read again and held
    /// to `check` (as [`BlobStore::read_checked_with`] does), so that an altered blob is still
    /// [`BlobError::Mismatch`], not a parse error.
    pub fn read_unhashed_with<T, E>(
        &self,
        digest: &str,
        check: &str,
        parse: impl FnOnce(&mut dyn Read, usize) -> Result<T, E>,
    ) -> Result<Result<T, E>, BlobError> {
        let (mut source, len) = self.open(digest)?;
        match parse(&mut source, len) {
            Ok(parsed) => Ok(Ok(parsed)),
            Err(e) => {
                self.read_checked_with(digest, check, |_, _| Ok::<(), ()>(()))?.ok();
                Ok(Err(e))
            }
        }
    }

    /// Blob `digest`'s bytes as a stream, and how many there are.
    fn open(&self, digest: &str) -> Result<(Box<dyn Read + Send>, usize), BlobError> {
        match &self.backend {
            Backend::Local { root } => {
                let path = Self::path(root, digest);
                let file = fs::File::open(&path).map_err(|e| unreadable(digest, &path, e))?;
                let len = file.metadata().map_err(|e| io(&path, e))?.len();
                let len = usize::try_from(len).map_err(|_| io(&path, std::io::Error::other("too large")))?;
                Ok((Box::new(file), len))
            }
            Backend::S3(s3) => s3.open(digest),
        }
    }

    /// Remove blobs being written, and the scratch directories of earlier versions, left by
    /// processes that no longer run (an import killed mid-way). Returns how many were removed.
    pub fn sweep(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.tmp) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("work-").and_then(|rest| rest.split('-').next()?.parse::<u32>().ok());
            let remove = |path: &Path| match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(path),
                _ => fs::remove_file(path),
            };
            if let Some(pid) = pid
                && pid != std::process::id()
                && !super::process_alive(pid as i64)
                && remove(&entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(store: &BlobStore, digest: &str) -> PathBuf {
        match &store.backend {
            Backend::Local { root } => BlobStore::path(root, digest),
            Backend::S3(_) => unreachable!("a local store"),
        }
    }

    #[test]
    fn blobs_round_trip_and_altered_bytes_are_caught() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::new(home.path());
        let digest = store.put(b"model bytes").expect("put");
        assert_eq!(store.put(b"model bytes").expect("again"), digest);
        assert_eq!(store.get(&digest).expect("get"), b"model bytes");
        fs::write(local(&store, &digest), b"evil bytes").expect("tamper");
        assert!(matches!(store.get(&digest), Err(BlobError::Mismatch { .. })));
        assert!(matches!(store.get(&digest_of(b"other")), Err(BlobError::Missing(_))));
    }

    #[test]
    fn a_blob_read_in_place_is_checked_whole_whatever_the_parser_read() {
        use std::io::Read;
        let home = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::new(home.path());
        let digest = store.put(b"head and tail").expect("put");
        let head = |blob: &mut HashingReader, len: usize| -> Result<Vec<u8>, String> {
            assert!(len >= 4, "{len} bytes");
            let mut out = vec![0; 4];
            blob.read_exact(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        };
        assert_eq!(store.read_with(&digest, head).expect("intact").expect("parsed"), b"head");
        // Altered past what the parser read, and altered so that the parser fails: both mismatches.
        fs::write(local(&store, &digest), b"head and TAIL").expect("tamper");
        assert!(matches!(store.read_with(&digest, head), Err(BlobError::Mismatch { .. })));
        fs::write(local(&store, &digest), b"heap").expect("swap");
        assert!(matches!(store.read_with(&digest, head), Err(BlobError::Mismatch { .. })));
        let fails = |_: &mut HashingReader, _: usize| -> Result<(), String> { Err("unparsable".into()) };
        assert!(matches!(store.read_with(&digest, fails), Err(BlobError::Mismatch { .. })));
        assert!(matches!(store.read_with(&digest_of(b"none"), head), Err(BlobError::Missing(_))));
    }

    #[test]
    fn a_blob_held_to_its_check_digest_is_checked_whole_as_by_its_name() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::new(home.path());
        let digest = store.put(b"head and tail").expect("put");
        let check = crate::digest::blake3_of(b"head and tail");
        let head = |blob: &mut HashingReader, _: usize| -> Result<Vec<u8>, String> {
            let mut out = vec![0; 4];
            std::io::Read::read_exact(blob, &mut out).map_err(|e| e.to_string())?;
            Ok(out)
        };
        assert_eq!(store.read_checked_with(&digest, &check, head).expect("intact").expect("parsed"), b"head");
        // A check digest of other bytes is a mismatch, as is the blob altered past what was parsed.
        let other = crate::digest::blake3_of(b"head and TAIL");
        assert!(matches!(store.read_checked_with(&digest, &other, head), Err(BlobError::Mismatch { .. })));
        fs::write(local(&store, &digest), b"head and TAIL").expect("tamper");
        match store.read_checked_with(&digest, &check, head) {
            Err(BlobError::Mismatch { expected, actual }) => assert_eq!((expected, actual), (check, other)),
            other => panic!("an altered blob read as {other:?}"),
        }
    }

    #[test]
    fn a_written_blob_is_stored_as_put_stores_it_and_a_failed_writer_leaves_nothing() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::new(home.path());
        for _ in 0..2 {
            let (digest, size) = store
                .put_written(|out| {
                    out.write_all(b"column ")?;
                    out.write_all(b"bytes")
                })
                .expect("put_written");
            assert_eq!((digest.as_str(), size), (digest_of(b"column bytes").as_str(), 12));
            assert_eq!(store.get(&digest).expect("get"), b"column bytes");
        }
        let failed = store.put_written(|out| {
            out.write_all(b"half a col")?;
            Err(std::io::Error::other("the disk is full"))
        });
        assert!(matches!(failed, Err(BlobError::Io { ref message, .. }) if message.contains("disk is full")));
        let left: Vec<_> = fs::read_dir(&store.tmp).expect("tmp").collect();
        assert!(left.is_empty(), "work files left behind: {left:?}");
        assert!(matches!(store.get(&digest_of(b"half a col")), Err(BlobError::Missing(_))));
    }

    #[test]
    fn work_left_by_a_process_that_no_longer_runs_is_swept_and_a_running_ones_kept() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::new(home.path());
        let ours = store.tmp.join(format!("{}blob", work_prefix()));
        fs::create_dir_all(store.tmp.join("work-4000000000-dir")).expect("a dead import's directory");
        fs::write(&ours, b"a column being written").expect("a running writer's file");
        fs::write(store.tmp.join("work-4000000000-blob"), b"half a column").expect("a dead writer's file");
        assert_eq!(store.sweep(), 2);
        let left: Vec<_> = fs::read_dir(&store.tmp).expect("tmp").flatten().map(|e| e.path()).collect();
        assert_eq!(left, [ours]);
    }
}
