//! Signed checkpoints of the chain's head, and the proof that the chain still holds what was
//! kept of it: checkpoints and decision receipts, each naming a position and the hash there.
//!
//! A hash chain proves nothing against whoever can rewrite all of it; a head kept where the
//! database's owner cannot reach it does. A checkpoint is a JWS, signed with the receipt key,
//! of `{seq, hash, at}`; copies leave the database (the owner digest, `audit.checkpoint`
//! webhooks, the API for a SIEM) and `audit verify --checkpoint` proves the chain still holds
//! each one: an edit, a rewrite with recomputed seals, a cut tail or a re-ordering before that
//! position changes the hash there or removes the position.

use super::signer::{unverified_claims, Keyring, ReceiptSigner, SignatureError};
use crate::store::checkpoints::{self as store, CheckpointRow};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use std::fmt;

/// What a checkpoint's signature covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaims {
    /// Always `countersign`.
    pub iss: String,
    /// Always `audit-chain`: what is signed is the chain's head.
    pub sub: String,
    /// When it was signed (seconds since the epoch).
    pub iat: i64,
    /// The chain position.
    pub seq: i64,
    /// The hash at that position (lower-case hex).
    pub hash: String,
    /// When it was signed, RFC 3339.
    pub at: String,
}

/// The subject every checkpoint carries.
pub const SUBJECT: &str = "audit-chain";

/// A checkpoint as it is published: one JSON object a line in a kept file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The chain position.
    pub seq: i64,
    /// The hash there.
    pub hash: String,
    /// When it was signed, RFC 3339.
    pub at: String,
    /// The key that signed it (in `/.well-known/jwks.json`).
    pub kid: String,
    /// The signed checkpoint: a compact JWS of [`CheckpointClaims`].
    pub jws: String,
}

impl Checkpoint {
    /// Signs the head `(seq, hash)` at `now`.
    pub fn sign(signer: &ReceiptSigner, seq: i64, hash: &str, now: DateTime<Utc>) -> anyhow::Result<Checkpoint> {
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let claims = CheckpointClaims {
            iss: "countersign".into(),
            sub: SUBJECT.into(),
            iat: now.timestamp(),
            seq,
            hash: hash.to_string(),
            at: at.clone(),
        };
        Ok(Checkpoint {
            seq,
            hash: hash.to_string(),
            at,
            kid: signer.kid().to_string(),
            jws: signer.sign(&claims)?,
        })
    }

    /// As stored.
    pub fn row(&self, at: DateTime<Utc>) -> CheckpointRow {
        CheckpointRow {
            seq: self.seq,
            hash: self.hash.clone(),
            at,
            kid: self.kid.clone(),
            jws: self.jws.clone(),
        }
    }

    /// As read back.
    pub fn of(row: CheckpointRow) -> Checkpoint {
        Checkpoint {
            seq: row.seq,
            hash: row.hash,
            at: row.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            kid: row.kid,
            jws: row.jws,
        }
    }

    /// One JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint always serialises")
    }
}

/// Something kept outside the database that names a chain position and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// What it is, in words: `checkpoint #12 (signed 2026-01-05T09:00:00Z)`, `receipt of INV-1`.
    pub name: String,
    /// The position it names.
    pub seq: i64,
    /// The hash it says is there.
    pub hash: String,
    /// For a receipt: the entry and the ref it says are there.
    pub entry: Option<(i64, String)>,
    /// Whether its signature was checked against a key.
    pub signature_checked: bool,
}

/// Reads one line of a checkpoint file: a published checkpoint object, or a bare JWS (a JSON
/// string or the token itself). The signed payload is what counts; a line whose fields say
/// otherwise is refused. Without keys the signature is not checked (the position still is).
pub fn read_checkpoint(line: &str, keys: Option<&Keyring>) -> Result<Kept, String> {
    let line = line.trim();
    let (token, fields) = match serde_json::from_str::<Value>(line) {
        Ok(Value::String(token)) => (token, None),
        Ok(Value::Object(map)) => {
            let token = map
                .get("jws")
                .and_then(Value::as_str)
                .ok_or("the object has no \"jws\" (a signed checkpoint)")?
                .to_string();
            (token, Some(map))
        }
        Ok(_) => return Err("expected a checkpoint object or its JWS".into()),
        Err(_) => (line.to_string(), None),
    };
    let claims: CheckpointClaims = claims_of(&token, keys).map_err(|e| e.to_string())?;
    if claims.sub != SUBJECT {
        return Err(format!(
            "its subject is {:?}, not {SUBJECT:?}: not a checkpoint",
            claims.sub
        ));
    }
    if let Some(map) = fields {
        let same = map.get("seq").is_none_or(|v| v.as_i64() == Some(claims.seq))
            && map.get("hash").is_none_or(|v| v.as_str() == Some(claims.hash.as_str()));
        if !same {
            return Err("its seq or hash differ from what its signature covers (the line was edited)".into());
        }
    }
    Ok(Kept {
        name: format!("checkpoint #{} (signed {})", claims.seq, claims.at),
        seq: claims.seq,
        hash: claims.hash,
        entry: None,
        signature_checked: keys.is_some(),
    })
}

/// Reads a decision receipt (the JWT itself, or a webhook body or API answer holding it in
/// `receipt`).
pub fn read_receipt(text: &str, keys: Option<&Keyring>) -> Result<Kept, String> {
    let text = text.trim();
    let token = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map
            .get("receipt")
            .and_then(Value::as_str)
            .ok_or("the object has no \"receipt\" (a signed decision receipt)")?
            .to_string(),
        Ok(Value::String(token)) => token,
        _ => text.to_string(),
    };
    let claims: crate::api::ReceiptClaims = claims_of(&token, keys).map_err(|e| e.to_string())?;
    Ok(Kept {
        name: format!("receipt of {} ({})", claims.r#ref, claims.status),
        seq: claims.audit.seq,
        hash: claims.audit.hash,
        entry: Some((claims.audit.id, claims.r#ref)),
        signature_checked: keys.is_some(),
    })
}

fn claims_of<T: serde::de::DeserializeOwned>(token: &str, keys: Option<&Keyring>) -> Result<T, SignatureError> {
    match keys {
        Some(keys) => keys.verify(token),
        None => unverified_claims(token),
    }
}

/// Why the chain no longer holds something that was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotHeld {
    /// The chain ends before the position: entries were cut off its end.
    Cut {
        /// Where the chain ends now (0: it is empty).
        head: i64,
    },
    /// Another hash is there: everything up to that position was rewritten (or re-ordered).
    Rewritten {
        /// The hash the chain has there now.
        found: String,
    },
    /// Another entry is sealed there, or it is about another request.
    OtherEntry {
        /// What the chain has there.
        found: String,
    },
}

impl fmt::Display for NotHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotHeld::Cut { head } => write!(f, "the chain ends at #{head}: entries were cut off its end"),
            NotHeld::Rewritten { found } => write!(
                f,
                "the chain has hash {found} there: the entries up to it were changed, re-ordered or re-sealed"
            ),
            NotHeld::OtherEntry { found } => write!(f, "the chain seals {found} there"),
        }
    }
}

/// Whether the chain still holds `kept` at its position.
pub async fn holds(pool: &PgPool, kept: &Kept) -> anyhow::Result<Result<(), NotHeld>> {
    let Some(seal) = store::seal_at(pool, kept.seq).await? else {
        let head = store::head(pool).await?.map_or(0, |(seq, _)| seq);
        return Ok(Err(NotHeld::Cut { head }));
    };
    if seal.hash != kept.hash {
        return Ok(Err(NotHeld::Rewritten { found: seal.hash }));
    }
    if let Some((id, r#ref)) = &kept.entry {
        if seal.entry_id != *id || seal.r#ref.as_deref() != Some(r#ref.as_str()) {
            let about = seal.r#ref.as_deref().unwrap_or("no request");
            return Ok(Err(NotHeld::OtherEntry {
                found: format!("entry id {} about {about}", seal.entry_id),
            }));
        }
    }
    Ok(Ok(()))
}

/// The latest checkpoint kept in the database, if any.
pub async fn latest(pool: &PgPool) -> anyhow::Result<Option<Checkpoint>> {
    Ok(store::latest(pool).await?.map(Checkpoint::of))
}

/// Up to `limit` checkpoints after position `after`, oldest first.
pub async fn list(pool: &PgPool, after: i64, limit: i64) -> anyhow::Result<Vec<Checkpoint>> {
    Ok(store::after(pool, after, limit)
        .await?
        .into_iter()
        .map(Checkpoint::of)
        .collect())
}

#[cfg(test)]
mod tests;
