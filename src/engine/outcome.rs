//! What a use case answers: a view of the request after the action, or a refusal that says why.
//! Outcomes are serialisable because an idempotent replay returns the stored first outcome.

use crate::approval::{RefusalReason, Status, VoteKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A person as shown to users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// Person id from people.toml.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One field of a request, formatted for people (money with its currency).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldView {
    /// Field name.
    pub name: String,
    /// Label to show.
    pub label: String,
    /// Formatted value.
    pub value: String,
}

/// How far one approval group has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// The role approvals are drawn from.
    pub role: String,
    /// Approvals needed.
    pub needed: u32,
    /// Who filled its slots.
    pub filled_by: Vec<PersonRef>,
    /// While the request is pending and the group is not met: the people who can still fill a
    /// slot (they hold the role, did not ask, and have not voted on this version).
    #[serde(default)]
    pub waiting_for: Vec<PersonRef>,
}

impl GroupView {
    /// Slots still open.
    pub fn missing(&self) -> usize {
        (self.needed as usize).saturating_sub(self.filled_by.len())
    }
}

/// One field whose value an amendment changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Label to show.
    pub label: String,
    /// The value before (none when the field was not set).
    pub before: Option<String>,
    /// The value now (none when the amendment cleared it).
    pub after: Option<String>,
}

/// What the latest amendment changed, so approvers see why they are asked again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentView {
    /// The version it replaced.
    pub from_version: i32,
    /// The fields whose values changed, in the workflow's order.
    pub changes: Vec<FieldChange>,
    /// How many votes on the replaced version were voided.
    pub votes_voided: i64,
    /// The rule of the replaced version (differs from the current one when the change moved it).
    pub previous_rule: String,
}

/// Everything a card shows about a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    /// `INV-42`.
    pub r#ref: String,
    /// Workflow id.
    pub workflow: String,
    /// Workflow title.
    pub workflow_title: String,
    /// Who asked.
    pub requester: PersonRef,
    /// Current version.
    pub version: i32,
    /// Where it stands.
    pub status: Status,
    /// Field values in the workflow's order.
    pub fields: Vec<FieldView>,
    /// The rule that applies to this version.
    pub rule: String,
    /// Progress of each approval group.
    pub groups: Vec<GroupView>,
    /// Who rejected it and why.
    pub rejected_by: Option<(PersonRef, String)>,
    /// Why the requester cancelled it, if they said.
    pub cancel_reason: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it expires if still pending.
    pub expires_at: DateTime<Utc>,
    /// When it reached its final state.
    pub decided_at: Option<DateTime<Utc>>,
    /// What the latest amendment changed (from version 2 on).
    #[serde(default)]
    pub amended: Option<AmendmentView>,
    /// What approving it does (the effect frozen with this version), and how that stands.
    #[serde(default)]
    pub effect: Option<EffectView>,
}

/// An effect as a card shows it: where it runs, the statement as written and the values bound
/// to its parameters (shown, never pasted), and how its run stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectView {
    /// The target's name.
    pub target: String,
    /// The statement as written in the workflow.
    pub sql: String,
    /// Each parameter and its value as bound (`:vendor`, `'ACME'`); the approvers and the
    /// decision time are known once it is decided.
    pub values: Vec<(String, String)>,
    /// The row count it must change, if the workflow says.
    pub expect_rows: Option<u64>,
    /// Where it stands.
    pub state: EffectState,
    /// What the rolled-back trial run said when the version was written.
    #[serde(default = "PreviewView::none")]
    pub preview: PreviewView,
}

/// The trial run of an effect, as a card shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "preview", rename_all = "snake_case")]
pub enum PreviewView {
    /// The workflow turns previews off (side effects a rollback cannot undo).
    Off,
    /// No trial run was made (a version written before previews existed).
    None,
    /// It would change this many rows.
    WouldChange {
        /// Rows.
        rows: i64,
    },
    /// It would fail.
    WouldFail {
        /// Why.
        error: String,
    },
}

impl PreviewView {
    fn none() -> Self {
        PreviewView::None
    }
}

/// Where an effect stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EffectState {
    /// The request is not approved (yet, or ever): nothing runs.
    NotRun,
    /// Approved; the effect is waiting for its target.
    Waiting,
    /// It ran, once.
    Executed {
        /// Rows it changed.
        rows: i64,
    },
    /// It could not run.
    Failed {
        /// Why.
        error: String,
    },
}

impl RequestView {
    /// What the quorum still lacks: "1 finance-director" ("nothing" once every group is met).
    pub fn needed_summary(&self) -> String {
        crate::approval::quorum::missing_phrase(
            self.groups
                .iter()
                .map(|g| (g.needed, g.filled_by.len(), g.role.as_str())),
        )
    }

    /// Everyone who can still fill a missing slot, each once, in group order.
    pub fn waiting_for(&self) -> Vec<&PersonRef> {
        let mut out: Vec<&PersonRef> = Vec::new();
        for p in self.groups.iter().flat_map(|g| &g.waiting_for) {
            if !out.iter().any(|q| q.id == p.id) {
                out.push(p);
            }
        }
        out
    }

    /// Everyone whose approval counted, in group order.
    pub fn approvers(&self) -> Vec<&PersonRef> {
        self.groups.iter().flat_map(|g| &g.filled_by).collect()
    }
}

/// One field's problem, shown next to the field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// Field name.
    pub field: String,
    /// What is wrong, for people.
    pub message: String,
}

/// A refused attempt: the stable reason (audited) and what the person is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Machine-readable reason.
    pub reason: RefusalReason,
    /// What the person is told.
    pub message: String,
    /// Per-field problems, for invalid input.
    pub fields: Vec<FieldProblem>,
}

impl Refusal {
    /// A refusal without field problems.
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Self {
        Refusal {
            reason,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

/// The answer to a state-changing use case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A request was opened.
    Opened {
        /// The new request.
        request: RequestView,
    },
    /// The requester amended it: a new version, earlier votes void.
    Amended {
        /// The request at its new version.
        request: RequestView,
    },
    /// A vote was counted (the request may now be final).
    Voted {
        /// The request after the vote.
        request: RequestView,
        /// Approve or reject.
        kind: VoteKind,
        /// Who voted.
        voter: PersonRef,
    },
    /// The requester withdrew it.
    Cancelled {
        /// The request, now cancelled.
        request: RequestView,
    },
    /// It expired.
    Expired {
        /// The request, now expired.
        request: RequestView,
    },
    /// A failed effect was queued (or, on the bot's own database, run) again.
    Retried {
        /// The request, with its effect's new state.
        request: RequestView,
    },
    /// Nothing changed, and this is why.
    Refused {
        /// The refusal.
        refusal: Refusal,
    },
}

impl Outcome {
    /// The request after the action, when it was not refused.
    pub fn request(&self) -> Option<&RequestView> {
        match self {
            Outcome::Opened { request }
            | Outcome::Amended { request }
            | Outcome::Voted { request, .. }
            | Outcome::Cancelled { request }
            | Outcome::Expired { request }
            | Outcome::Retried { request } => Some(request),
            Outcome::Refused { .. } => None,
        }
    }

    /// The refusal, when the action was refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Outcome::Refused { refusal } => Some(refusal),
            _ => None,
        }
    }
}
