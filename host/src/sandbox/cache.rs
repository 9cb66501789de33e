//! Compiled-code cache: `.cwasm` artifacts produced by this host only, keyed by component digest
//! and engine compatibility hash, each checked against its recorded sha256 before deserializing.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::digest::sha256_hex;

/// Where artifacts live, and the engine they are valid for.
pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Compiled now (and stored).
    Compiled,
    /// Loaded from a verified artifact.
    Hit,
    /// An artifact was present but failed its hash check: discarded and recompiled.
    Rebuilt,
}

impl CompiledCache {
    /// A cache in `dir` for artifacts of `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache { dir, engine_key: format!("{:016x}", h.finish()) }
    }

    fn paths(&self, digest_hex: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{digest_hex}-{}", self.engine_key);
        (self.dir.join(format!("{stem}.cwasm")), self.dir.join(format!("{stem}.sha256")))
    }

    /// The component whose sha256 is `digest_hex`, from the cache, or from `compile` (which
    /// returns the artifact) on a miss.
    pub fn load(
        &self,
        engine: &Engine,
        digest_hex: &str,
        compile: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<(Component, CacheUse), String> {
        let (artifact, sum) = self.paths(digest_hex);
        let mut rebuilt = false;
        if let (Ok(code), Ok(recorded)) = (fs::read(&artifact), fs::read_to_string(&sum)) {
            if sha256_hex(&code) == recorded.trim() {
                // SAFETY: the artifact was written by this host (only `store` writes here) for an
                // engine with the same compatibility hash, and its bytes match the sha256 recorded
                // when it was written, so it is not truncated or altered.
                let component =
                    unsafe { Component::deserialize(engine, &code) }.map_err(|e| format!("{e:#}"))?;
                return Ok((component, CacheUse::Hit));
            }
            // Corrupted or tampered: never load it.
            let _ = fs::remove_file(&artifact);
            let _ = fs::remove_file(&sum);
            rebuilt = true;
        }
        let code = compile()?;
        // SAFETY: the artifact was produced just now, by this process or by the compiler worker
        // it started from its own executable, for an engine with this configuration.
        let component = unsafe { Component::deserialize(engine, &code) }.map_err(|e| format!("{e:#}"))?;
        // A cache that cannot be written only costs speed.
        let _ = self.store(&code, &artifact, &sum);
        Ok((component, if rebuilt { CacheUse::Rebuilt } else { CacheUse::Compiled }))
    }

    fn store(&self, code: &[u8], artifact: &Path, sum: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        // Write the artifact before its checksum, each atomically: a reader sees both or a miss.
        for (path, data) in [(artifact, code), (sum, sha256_hex(code).as_bytes())] {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            tmp.write_all(data)?;
            tmp.persist(path)?;
        }
        Ok(())
    }
}
