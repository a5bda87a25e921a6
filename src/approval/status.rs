//! The request states and the stable vocabulary of refusal reasons.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a request stands. Pending is the only state that ever changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for votes.
    Pending,
    /// Every group reached its count.
    Approved,
    /// An eligible approver rejected it.
    Rejected,
    /// The requester withdrew it.
    Cancelled,
    /// Nobody decided before `expires_after`.
    Expired,
}

impl Status {
    /// Whether the state is final (nothing can change it any more).
    pub fn is_final(self) -> bool {
        match self {
            Status::Pending => false,
            Status::Approved | Status::Rejected | Status::Cancelled | Status::Expired => true,
        }
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            "cancelled" => Status::Cancelled,
            "expired" => Status::Expired,
            other => return Err(format!("unknown status {other:?}")),
        })
    }
}

/// Why an attempt was refused: the machine-readable `reason` of a refused audit entry.
/// The names are a stable vocabulary that SIEM rules match on: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The person's roles do not allow the action.
    NotPermitted,
    /// The requester tried to vote on their own request.
    SelfApproval,
    /// The person already voted on this version.
    AlreadyVoted,
    /// Every group the voter could fill is already met.
    GroupFull,
    /// The vote names a version that is no longer current.
    StaleVersion,
    /// The request is already in a final state.
    AlreadyDecided,
    /// A reject without a reason.
    ReasonRequired,
    /// Malformed or out-of-range input.
    InvalidInput,
    /// No request has that ref.
    UnknownRef,
    /// The caller could not be identified.
    Unauthenticated,
}

impl RefusalReason {
    /// Every reason, so that each one's counter exists from the start.
    pub const ALL: [RefusalReason; 10] = [
        RefusalReason::NotPermitted,
        RefusalReason::SelfApproval,
        RefusalReason::AlreadyVoted,
        RefusalReason::GroupFull,
        RefusalReason::StaleVersion,
        RefusalReason::AlreadyDecided,
        RefusalReason::ReasonRequired,
        RefusalReason::InvalidInput,
        RefusalReason::UnknownRef,
        RefusalReason::Unauthenticated,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::NotPermitted => "not_permitted",
            RefusalReason::SelfApproval => "self_approval",
            RefusalReason::AlreadyVoted => "already_voted",
            RefusalReason::GroupFull => "group_full",
            RefusalReason::StaleVersion => "stale_version",
            RefusalReason::AlreadyDecided => "already_decided",
            RefusalReason::ReasonRequired => "reason_required",
            RefusalReason::InvalidInput => "invalid_input",
            RefusalReason::UnknownRef => "unknown_ref",
            RefusalReason::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
