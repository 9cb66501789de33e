//! Signed checkpoints over the audit chain. The registry's ed25519 key (made on first use, readable
//! only by the registry's owner) signs the head (seq, hash, time) after every command that moved
//! it. A rewrite of the log, even with the chain recomputed, no longer matches a signature; a
//! truncation is caught by a checkpoint kept outside the registry (`sieve audit checkpoint`).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::storage::{Db, StorageError, keys, now};

/// The file under `<home>/keys/` holding the signing key's seed.
const KEY_FILE: &str = "audit.key";

/// The registry's audit signing key.
pub struct AuditKey {
    signing: SigningKey,
}

impl AuditKey {
    /// The key under `home`, made on first use.
    pub fn load_or_create(home: &std::path::Path) -> Result<AuditKey, StorageError> {
        let seed = keys::load_or_create(home, KEY_FILE, 32)?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&seed);
        Ok(AuditKey { signing: SigningKey::from_bytes(&bytes) })
    }

    /// The public key, hex: what an operator keeps elsewhere to verify with.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().to_bytes())
    }
}

/// Whether the key under `home` signed this registry's newest checkpoint (true while there is
/// none). Every host of one registry must sign with the same key; a host with a key of its own
/// would write checkpoints that `audit verify` rejects. A missing key file is not created here.
pub async fn signs_this_registry(db: &Db, home: &std::path::Path) -> Result<bool, StorageError> {
    let Some(newest) = newest(db, "").await? else { return Ok(true) };
    if !home.join("keys").join(KEY_FILE).exists() {
        return Ok(false);
    }
    let key = AuditKey::load_or_create(home)?;
    Ok(newest.signed_by(&key.signing.verifying_key()))
}

/// A signed statement that the log's event `seq` has hash `hash`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Checkpoint {
    /// The newest event covered.
    pub seq: i64,
    /// Its hash (which covers every event before it).
    pub hash: String,
    /// When it was signed.
    pub at: String,
    /// The signer's public key, hex.
    pub public_key: String,
    /// ed25519 signature over the statement, hex.
    pub signature: String,
}

fn statement(seq: i64, hash: &str, at: &str) -> Vec<u8> {
    format!("sieve audit checkpoint\n{seq}\n{hash}\n{at}\n").into_bytes()
}

/// Parse a hex public key.
pub fn public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("the public key is not hex: {e}"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "the public key is not 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))
}

impl Checkpoint {
    /// Whether the signature is `key`'s over this checkpoint's statement.
    pub fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else { return false };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else { return false };
        key.verify(&statement(self.seq, &self.hash, &self.at), &Signature::from_bytes(&bytes)).is_ok()
    }
}

/// Sign the log's head if it moved since the last checkpoint; the newest checkpoint either way
/// (`None` while the log is empty).
pub async fn seal(db: &Db, key: &AuditKey) -> Result<Option<Checkpoint>, StorageError> {
    // A server seals after every request that may write: when the head has not moved, answer
    // without taking the registry's write lock (checked again under the lock when it has).
    let head: i64 =
        sqlx::query("SELECT seq FROM audit_head WHERE id = 1").fetch_one(db.pool()).await?.try_get("seq")?;
    let covered: Option<i64> = sqlx::query("SELECT MAX(seq) AS seq FROM audit_checkpoints")
        .fetch_one(db.pool())
        .await?
        .try_get("seq")?;
    if head == 0 || covered == Some(head) {
        return newest(db, &key.public_hex()).await;
    }
    let mut tx = db.begin_write().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
    let (seq, hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    if seq == 0 {
        return Ok(None);
    }
    let covered: Option<i64> = sqlx::query("SELECT MAX(seq) AS seq FROM audit_checkpoints")
        .fetch_one(&mut *tx)
        .await?
        .try_get("seq")?;
    if covered != Some(seq) {
        let at = now();
        let signature = hex::encode(key.signing.sign(&statement(seq, &hash, &at)).to_bytes());
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4)")
            .bind(seq)
            .bind(&hash)
            .bind(&at)
            .bind(&signature)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    newest(db, &key.public_hex()).await
}

/// The newest stored checkpoint, labelled with `public_key` (one row, however many there are).
async fn newest(db: &Db, public_key: &str) -> Result<Option<Checkpoint>, StorageError> {
    let row = sqlx::query("SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| checkpoint_from(&r, public_key)).transpose()
}

fn checkpoint_from(r: &sqlx::any::AnyRow, public_key: &str) -> Result<Checkpoint, StorageError> {
    Ok(Checkpoint {
        seq: r.try_get("seq")?,
        hash: r.try_get("hash")?,
        at: r.try_get("at")?,
        public_key: public_key.to_string(),
        signature: r.try_get("signature")?,
    })
}

/// Every stored checkpoint, oldest first, labelled with `public_key`.
pub async fn checkpoints(db: &Db, public_key: &str) -> Result<Vec<Checkpoint>, StorageError> {
    let rows = sqlx::query("SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| checkpoint_from(r, public_key)).collect()
}
