//! Compiled-code cache: `.cwasm` artifacts produced by this host only, keyed by component digest
//! and engine compatibility hash. Deserializing an artifact runs its native code, so each carries
//! a MAC (HMAC-SHA256 over the engine key, the component digest and the artifact) under a key only
//! the registry's owner can read; an artifact whose MAC does not match is never loaded, only
//! recompiled. A checksum beside the file would not do: whoever can write the one can write the
//! other.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::{constant_time_eq, hmac_sha256};

/// Length of the cache's MAC key.
pub const KEY_BYTES: usize = 32;

/// Where artifacts live, the engine they are valid for, and the key that vouches for them.
pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
    mac_key: Vec<u8>,
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

impl CompiledCache {
    /// A cache in `dir` for artifacts of `engine`, vouched for by `mac_key`.
    pub fn new(dir: PathBuf, engine: &Engine, mac_key: Vec<u8>) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache { dir, engine_key: format!("{:016x}", h.finish()), mac_key }
    }

    fn paths(&self, digest_hex: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{digest_hex}-{}", self.engine_key);
        (self.dir.join(format!("{stem}.cwasm")), self.dir.join(format!("{stem}.mac")))
    }

    /// The MAC of `code` as the artifact of component `digest_hex` for this engine: an artifact
    /// copied under another component's name does not match.
    fn mac(&self, digest_hex: &str, code: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.mac_key, &[self.engine_key.as_bytes(), b"\0", digest_hex.as_bytes(), b"\0", code])
    }

    /// The component whose sha256 is `digest_hex`, from the cache, or from `compile` (which
    /// returns the artifact) on a miss.
    pub fn load(
        &self,
        engine: &Engine,
        digest_hex: &str,
        compile: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<(Component, CacheUse), String> {
        let (artifact, mac) = self.paths(digest_hex);
        let mut rebuilt = false;
        if let (Ok(code), Ok(recorded)) = (fs::read(&artifact), fs::read_to_string(&mac)) {
            let expected = hex::encode(self.mac(digest_hex, &code));
            if constant_time_eq(expected.as_bytes(), recorded.trim().as_bytes()) {
                // SAFETY: the MAC proves this host wrote these exact bytes as the artifact of this
                // component for an engine with this compatibility hash: only the registry's owner
                // holds the key, so the file was neither forged nor swapped nor truncated.
                let component =
                    unsafe { Component::deserialize(engine, &code) }.map_err(|e| format!("{e:#}"))?;
                return Ok((component, CacheUse::Hit));
            }
            // Corrupted, forged or swapped: never load it.
            let _ = fs::remove_file(&artifact);
            let _ = fs::remove_file(&mac);
            rebuilt = true;
        }
        let code = compile()?;
        // SAFETY: the artifact was produced just now, by this process or by the compiler worker
        // it started from its own executable, for an engine with this configuration.
        let component = unsafe { Component::deserialize(engine, &code) }.map_err(|e| format!("{e:#}"))?;
        // A cache that cannot be written only costs speed.
        let _ = self.store(&code, &artifact, &mac, &hex::encode(self.mac(digest_hex, &code)));
        Ok((component, if rebuilt { CacheUse::Rebuilt } else { CacheUse::Compiled }))
    }

    fn store(&self, code: &[u8], artifact: &Path, mac_path: &Path, mac: &str) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        // Write the artifact before its checksum, each atomically: a reader sees both or a miss.
        for (path, data) in [(artifact, code), (mac_path, mac.as_bytes())] {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            tmp.write_all(data)?;
            tmp.persist(path)?;
        }
        Ok(())
    }
}
