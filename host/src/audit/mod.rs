//! The append-only audit log: every state change, run, grant, release and refusal is an event
//! whose hash covers its predecessor's, so altering or deleting any row breaks the chain; signed
//! checkpoints (`signing`) make a recomputed chain or a truncated tail detectable too.

pub mod signing;

use serde::Serialize;
use sqlx::Row;

use crate::digest::sha256_hex;
use crate::storage::{Db, StorageError, WriteTx, now};

/// One event as stored.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema, serde::Deserialize)]
pub struct Event {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: a user name, or `system`.
    pub actor: String,
    /// What happened, e.g. `plugin.approve`, `run.finish`, `refused`.
    pub action: String,
    /// What it happened to (a digest, dataset name, run id, ...).
    pub target: String,
    /// Details as JSON text.
    pub detail: String,
    /// The previous event's hash (`""` for the first).
    pub prev_hash: String,
    /// sha256 over the previous hash and this event's fields.
    pub hash: String,
}

/// The hash that chains `fields` after `prev_hash`: the fields are JSON-encoded as one array, so no
/// choice of field text can make two different events hash alike.
fn chain_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> String {
    let fields = serde_json::json!([prev_hash, seq, at, actor, action, target, detail]);
    sha256_hex(fields.to_string().as_bytes())
}

/// Append an event inside `tx` (which holds the write lock, so the head cannot move under us).
pub async fn append(
    tx: &mut WriteTx,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<i64, StorageError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let (last, prev_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    let seq = last + 1;
    let at = now();
    let detail = detail.to_string();
    let hash = chain_hash(&prev_hash, seq, &at, actor, action, target, &detail);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, target, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(&at)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(&detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

/// Append one event in its own transaction (for refusals and other events with no state change).
pub async fn record(
    db: &Db,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<i64, StorageError> {
    let mut tx = db.begin_write().await?;
    let seq = append(&mut tx, actor, action, target, detail).await?;
    tx.commit().await?;
    Ok(seq)
}

fn event(row: &sqlx::any::AnyRow) -> Result<Event, sqlx::Error> {
    Ok(Event {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// The newest `limit` events (oldest first), optionally only those about `target`, only those
/// whose actor is one of `actors`, and only those before event `before` (the next page back).
pub async fn list(
    db: &Db,
    limit: i64,
    target: Option<&str>,
    actors: Option<&[String]>,
    before: Option<i64>,
) -> Result<Vec<Event>, StorageError> {
    let mut sql = String::from("SELECT * FROM audit_events WHERE 1 = 1");
    let mut next = 1;
    if target.is_some() {
        sql.push_str(" AND target = $1");
        next = 2;
    }
    if before.is_some() {
        sql.push_str(&format!(" AND seq < ${next}"));
        next += 1;
    }
    if let Some(actors) = actors {
        if actors.is_empty() {
            return Ok(Vec::new());
        }
        let places: Vec<String> = (next..next + actors.len()).map(|i| format!("${i}")).collect();
        sql.push_str(&format!(" AND actor IN ({})", places.join(", ")));
        next += actors.len();
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${next}"));
    let mut query = sqlx::query(&sql);
    if let Some(t) = target {
        query = query.bind(t);
    }
    if let Some(b) = before {
        query = query.bind(b);
    }
    for a in actors.unwrap_or_default() {
        query = query.bind(a);
    }
    let rows = query.bind(limit).fetch_all(db.pool()).await?;
    let mut events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every event hashes correctly onto its predecessor, the head matches the last one, and
    /// signed checkpoints cover the whole log.
    Intact {
        /// Number of events checked.
        events: i64,
        /// The newest hash.
        head: String,
        /// Signed checkpoints checked.
        checkpoints: usize,
        /// The event the kept checkpoint file vouched for, when one was given.
        kept_checkpoint: Option<i64>,
    },
    /// The first event (by position) at which the chain breaks, and how.
    Broken {
        /// Position of the first bad event.
        seq: i64,
        /// What is wrong there.
        reason: String,
    },
}

/// Walk the whole log and check every link and the head; then every stored checkpoint's signature
/// under `key` and the hash it vouches for, that checkpoints cover the log to its end, and
/// `kept` (a checkpoint kept outside the registry), which catches a truncated tail.
pub async fn verify(
    db: &Db,
    key: &ed25519_dalek::VerifyingKey,
    kept: Option<&signing::Checkpoint>,
) -> Result<Verdict, StorageError> {
    let rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq").fetch_all(db.pool()).await?;
    let mut hashes: Vec<String> = Vec::with_capacity(rows.len());
    let mut prev = String::new();
    let mut expected_seq = 1i64;
    for row in &rows {
        let e = event(row)?;
        if e.seq != expected_seq {
            return Ok(Verdict::Broken {
                seq: expected_seq,
                reason: format!("event {expected_seq} is missing (the next stored event is {})", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Ok(Verdict::Broken {
                seq: e.seq,
                reason: "its link to the previous event does not match that event's hash".into(),
            });
        }
        let recomputed = chain_hash(&e.prev_hash, e.seq, &e.at, &e.actor, &e.action, &e.target, &e.detail);
        if recomputed != e.hash {
            return Ok(Verdict::Broken {
                seq: e.seq,
                reason: "its contents no longer match its hash (the row was altered)".into(),
            });
        }
        prev = e.hash.clone();
        hashes.push(e.hash);
        expected_seq += 1;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(db.pool()).await?;
    let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    if head_seq != expected_seq - 1 || head_hash != prev {
        return Ok(Verdict::Broken {
            seq: expected_seq,
            reason: format!(
                "the log ends at event {} but {head_seq} events were written (the newest were deleted)",
                expected_seq - 1
            ),
        });
    }
    let last = expected_seq - 1;
    let hash_at = |seq: i64| usize::try_from(seq - 1).ok().and_then(|i| hashes.get(i));
    let stored = signing::checkpoints(db, "").await?;
    for cp in &stored {
        if !cp.signed_by(key) {
            return Ok(Verdict::Broken {
                seq: cp.seq,
                reason: format!("the checkpoint at event {} is not signed by the registry's key", cp.seq),
            });
        }
        match hash_at(cp.seq) {
            None => {
                return Ok(Verdict::Broken {
                    seq: last + 1,
                    reason: format!(
                        "a checkpoint signed at {} covers event {}, but the log ends at {last}: events were removed",
                        cp.at, cp.seq
                    ),
                });
            }
            Some(h) if *h != cp.hash => {
                return Ok(Verdict::Broken {
                    seq: cp.seq,
                    reason: format!(
                        "the log up to event {} no longer matches the checkpoint signed at {}: it was rewritten",
                        cp.seq, cp.at
                    ),
                });
            }
            Some(_) => {}
        }
    }
    let signed_through = stored.last().map_or(0, |c| c.seq);
    if signed_through < last {
        return Ok(Verdict::Broken {
            seq: signed_through + 1,
            reason: format!(
                "events {}..{last} are covered by no signed checkpoint: written without the registry's key, or added behind its back",
                signed_through + 1
            ),
        });
    }
    if let Some(cp) = kept {
        if !cp.signed_by(key) {
            return Ok(Verdict::Broken {
                seq: cp.seq,
                reason: "the kept checkpoint is not signed by the registry's key".into(),
            });
        }
        match hash_at(cp.seq) {
            Some(h) if *h == cp.hash => {}
            None => {
                return Ok(Verdict::Broken {
                    seq: last + 1,
                    reason: format!(
                        "the kept checkpoint (signed at {}) covers event {}, but the log ends at {last}: it was truncated",
                        cp.at, cp.seq
                    ),
                });
            }
            Some(_) => {
                return Ok(Verdict::Broken {
                    seq: cp.seq,
                    reason: format!(
                        "the log up to event {} no longer matches the kept checkpoint (signed at {}): it was rewritten",
                        cp.seq, cp.at
                    ),
                });
            }
        }
    }
    Ok(Verdict::Intact {
        events: last,
        head: prev,
        checkpoints: stored.len(),
        kept_checkpoint: kept.map(|c| c.seq),
    })
}
