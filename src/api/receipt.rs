//! Signed decision receipts: a JWT that states how a request ended (ref, version, final state,
//! rule, approvers) and names the sealed audit entry that recorded it, signed with the key in
//! `COUNTERSIGN_RECEIPT_KEY` (Ed25519 or RSA) and verifiable with `/.well-known/jwks.json`.

use crate::engine::{Engine, RequestView};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use crate::audit::signer::{jwks, ReceiptSigner};

/// The receipt's claims. Everything in it is read from the database and the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// Always `countersign`.
    pub iss: String,
    /// The request's ref, as the receipt's subject.
    pub sub: String,
    /// When the request reached its final state (seconds since the epoch): a receipt is the
    /// same token however often it is asked for.
    pub iat: i64,
    /// `INV-42`.
    pub r#ref: String,
    /// The workflow id.
    pub workflow: String,
    /// The version that was decided.
    pub version: i32,
    /// `approved`, `rejected`, `cancelled` or `expired`.
    pub status: String,
    /// The rule that applied.
    pub rule: String,
    /// The content hash of the workflow file in force.
    pub policy_hash: Option<String>,
    /// Who asked (a person or service id).
    pub requester: String,
    /// Everyone whose approval counted, in group order.
    pub approvers: Vec<String>,
    /// Who rejected, and why.
    pub rejected_by: Option<Value>,
    /// The final state's time, RFC 3339.
    pub decided_at: String,
    /// The audit entry that recorded the final state: its chain position, id and hash.
    pub audit: AuditPointer,
    /// What the approval ran, when its workflow has an effect: the target, the statement's
    /// hash, and its state when the receipt was made (`pending` until it has run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<crate::store::request_effects::EffectRecord>,
}

/// Where a receipt's decision stands in the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPointer {
    /// Chain position.
    pub seq: i64,
    /// Entry id.
    pub id: i64,
    /// The entry's chain hash.
    pub hash: String,
}

/// Why a receipt cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The request has not reached a final state.
    #[error("{0} is still pending: a receipt exists once it is decided")]
    NotFinal(String),
    /// The final state's audit entry is written but not yet chained (a sealing pass is due).
    #[error("the audit entry of {0} is not sealed yet; try again in a moment")]
    NotSealed(String),
    /// Reading the database failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// How many sealing passes a receipt waits for (50 ms apart) before answering "not sealed yet".
const SEAL_TRIES: u32 = 20;

/// The claims of a decided request's receipt, from its view and the sealed audit entry that
/// recorded the final state. Seals the chain first when that entry is not chained yet.
pub async fn claims(engine: &Engine, view: &RequestView) -> Result<ReceiptClaims, ReceiptError> {
    let (Some(decided_at), true) = (view.decided_at, view.status.is_final()) else {
        return Err(ReceiptError::NotFinal(view.r#ref.clone()));
    };
    let action = format!("request.{}", view.status.as_str());
    // The sealer chains entries once every older transaction has settled; a transaction still
    // open elsewhere can hold that back for a moment, so seal and look again a few times.
    let mut tries = 0;
    let entry = loop {
        let trail = crate::audit::trail(engine.pool(), &view.r#ref).await?;
        let entry = trail
            .into_iter()
            .rev()
            .find(|e| e.action == action && e.outcome == "done")
            .with_context(|| {
                format!(
                    "{} is {} but its audit entry is missing",
                    view.r#ref,
                    view.status.as_str()
                )
            })?;
        if entry.seq.is_some() || tries == SEAL_TRIES {
            break entry;
        }
        if tries > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        crate::audit::seal(engine.pool()).await?;
        tries += 1;
    };
    let (Some(seq), Some(hash)) = (entry.seq, entry.hash.clone()) else {
        return Err(ReceiptError::NotSealed(view.r#ref.clone()));
    };
    Ok(ReceiptClaims {
        iss: "countersign".into(),
        sub: view.r#ref.clone(),
        iat: decided_at.timestamp(),
        r#ref: view.r#ref.clone(),
        workflow: view.workflow.clone(),
        version: view.version,
        status: view.status.as_str().into(),
        rule: view.rule.clone(),
        policy_hash: entry.policy_hash.clone(),
        requester: view.requester.id.clone(),
        approvers: view.approvers().into_iter().map(|p| p.id.clone()).collect(),
        rejected_by: view
            .rejected_by
            .as_ref()
            .map(|(p, reason)| json!({ "id": p.id, "reason": reason })),
        decided_at: decided_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        audit: AuditPointer {
            seq,
            id: entry.id,
            hash,
        },
        effect: crate::store::request_effects::record_of(engine.pool(), &view.r#ref, view.version).await?,
    })
}
