//! Compiled-code cache: `.cwasm` artifacts produced by this host only, keyed by component digest
//! and engine compatibility hash. Deserializing an artifact runs its native code, so each carries
//! a MAC (keyed BLAKE3 over the engine key, the component digest and size, and the artifact)
//! under a key only the registry's owner can read; an artifact whose MAC does not match is never
//! loaded, only recompiled. A checksum beside the file would not do: whoever can write the one can
//! write the other.
//!
//! A load maps the artifact once, computes its MAC on the mapping (BLAKE3 on every core: the SQL
//! engine's artifact is over 300 MB, which HMAC-SHA256 takes a quarter of a second to read) and
//! hands wasmtime that same open file, never the path again. Only an artifact that this account
//! owns and nobody else may write is mapped: whoever could change its bytes after the check could
//! read the key as well.

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::constant_time_eq;

/// Length of the cache's MAC key.
pub const KEY_BYTES: usize = 32;

/// Where artifacts live, the engine they are valid for, and the key that vouches for them.
pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
    mac_key: [u8; 32],
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Compiled now (and stored).
    Compiled,
    /// Loaded from a verified artifact.
    Hit,
    /// An artifact was present but its MAC did not match: discarded and recompiled.
    Rebuilt,
    /// Already loaded in this process (a long-lived server or worker running it again).
    Loaded,
}

/// What the cache holds for a digest.
pub enum Cached {
    /// A verified artifact, loaded, with the size of the component it was compiled from.
    Hit(Component, usize),
    /// Nothing.
    Miss,
    /// An artifact that did not verify (now removed).
    Discarded,
}

/// What the code `engine` compiles depends on (wasmtime's version and its configuration), as hex.
pub fn engine_key(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

impl CompiledCache {
    /// A cache in `dir` for artifacts of `engine`, vouched for by `mac_key`.
    pub fn new(dir: PathBuf, engine: &Engine, mac_key: &[u8]) -> Self {
        CompiledCache {
            dir,
            engine_key: engine_key(engine),
            mac_key: blake3::derive_key("sieve compiled-code cache MAC", mac_key),
        }
    }

    fn paths(&self, digest_hex: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{digest_hex}-{}", self.engine_key);
        (self.dir.join(format!("{stem}.cwasm")), self.dir.join(format!("{stem}.mac")))
    }

    /// The MAC of `code` as the artifact of the `size`-byte component `digest_hex` for this
    /// engine: an artifact copied under another component's name does not match.
    fn mac(&self, digest_hex: &str, size: usize, code: &[u8]) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.mac_key);
        for part in [self.engine_key.as_bytes(), digest_hex.as_bytes(), size.to_string().as_bytes()] {
            h.update(part).update(b"\0");
        }
        h.update_rayon(code).finalize().to_hex().to_string()
    }

    /// The verified artifact of component `digest_hex`, loaded, if the cache holds one; an
    /// artifact that does not verify is removed.
    pub fn cached(&self, engine: &Engine, digest_hex: &str) -> Cached {
        let (artifact, mac) = self.paths(digest_hex);
        let Ok(recorded) = fs::read_to_string(&mac) else { return Cached::Miss };
        let Ok(file) = File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(&artifact) else {
            return Cached::Miss;
        };
        if let Some(component) = self.verified(engine, digest_hex, &recorded, &file) {
            return component;
        }
        // Corrupted, forged, swapped or open to others: never load it.
        let _ = fs::remove_file(&artifact);
        let _ = fs::remove_file(&mac);
        Cached::Discarded
    }

    fn verified(&self, engine: &Engine, digest_hex: &str, recorded: &str, file: &File) -> Option<Cached> {
        let meta = file.metadata().ok()?;
        // SAFETY: geteuid has no preconditions.
        let owner = unsafe { libc::geteuid() };
        if !meta.is_file() || meta.uid() != owner || meta.mode() & 0o022 != 0 {
            return None;
        }
        let (size, recorded_mac) = recorded.trim().split_once(' ')?;
        let size: usize = size.parse().ok()?;
        // SAFETY: a private, read-only mapping of a file that only this account can write (checked
        // above); it is dropped before this function returns.
        let code = unsafe { memmap2::Mmap::map(file) }.ok()?;
        if !constant_time_eq(self.mac(digest_hex, size, &code).as_bytes(), recorded_mac.as_bytes()) {
            return None;
        }
        // SAFETY: the MAC proves this host wrote these exact bytes as the artifact of this
        // component for an engine with this compatibility hash: only the registry's owner holds
        // the key, so the file was neither forged nor swapped nor truncated, and only that owner
        // can write it while wasmtime maps it. `/proc/self/fd` names the very file verified, not
        // whatever its path names by now.
        let component = unsafe {
            Component::deserialize_file(
                engine,
                format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(file)),
            )
            .or_else(|_| Component::deserialize(engine, &code[..]))
        };
        component.ok().map(|c| Cached::Hit(c, size))
    }

    /// The component of `size` bytes whose sha256 is `digest_hex`, from the cache, or from
    /// `compile` (which returns the artifact) on a miss.
    pub fn load(
        &self,
        engine: &Engine,
        digest_hex: &str,
        size: usize,
        compile: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<(Component, CacheUse), String> {
        let rebuilt = match self.cached(engine, digest_hex) {
            Cached::Hit(component, _) => return Ok((component, CacheUse::Hit)),
            Cached::Miss => false,
            Cached::Discarded => true,
        };
        let code = compile()?;
        // SAFETY: the artifact was produced just now, by this process or by the compiler worker
        // it started from its own executable, for an engine with this configuration.
        let component = unsafe { Component::deserialize(engine, &code) }.map_err(|e| format!("{e:#}"))?;
        // A cache that cannot be written only costs speed.
        let _ = self.store(digest_hex, size, &code);
        Ok((component, if rebuilt { CacheUse::Rebuilt } else { CacheUse::Compiled }))
    }

    fn store(&self, digest_hex: &str, size: usize, code: &[u8]) -> anyhow::Result<()> {
        let (artifact, mac_path) = self.paths(digest_hex);
        let mac = format!("{size} {}\n", self.mac(digest_hex, size, code));
        fs::create_dir_all(&self.dir)?;
        // Write the artifact before its MAC, each atomically (and readable by this account
        // alone): a reader sees both or a miss.
        for (path, data) in [(&artifact, code), (&mac_path, mac.as_bytes())] {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            tmp.write_all(data)?;
            tmp.persist(path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_binds_engine_digest_size_and_every_byte() {
        let engine = Engine::default();
        let cache = CompiledCache::new(PathBuf::from("/nonexistent"), &engine, &[7; KEY_BYTES]);
        let code = vec![1u8; 3 << 20];
        let mac = cache.mac("ab", 10, &code);
        assert_eq!(mac, cache.mac("ab", 10, &code));
        assert_ne!(mac, cache.mac("ac", 10, &code));
        assert_ne!(mac, cache.mac("ab", 11, &code));
        let mut changed = code.clone();
        changed[2 << 20] ^= 1;
        assert_ne!(mac, cache.mac("ab", 10, &changed));
        let other_key = CompiledCache::new(PathBuf::from("/nonexistent"), &engine, &[8; KEY_BYTES]);
        assert_ne!(mac, other_key.mac("ab", 10, &code));
    }
}
