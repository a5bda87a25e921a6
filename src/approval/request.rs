//! One request's state machine: pending -> approved | rejected | cancelled | expired.

use super::quorum::{self, Approval, Progress};
use super::status::{RefusalReason, Status};
use crate::policy::{ApprovalGroup, PersonId, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest reason (for a reject or a cancel) we keep, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What a voter chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// Approve (fills a slot).
    Approve,
    /// Reject (decides at once; needs a reason).
    Reject,
}

impl VoteKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteKind::Approve => "approve",
            VoteKind::Reject => "reject",
        }
    }
}

/// What an accepted vote did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteEffect {
    /// The approval filled a slot; `approved` when it completed the quorum.
    Counted {
        /// Whether every group is now met.
        approved: bool,
    },
    /// The reject decided the request.
    Rejected,
}

/// A request as the domain sees it: the current version, its rule's groups and its votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who opened it; never an approver of it.
    pub requester: PersonId,
    /// The current version, from 1; an amendment adds one.
    pub version: u32,
    /// Where it stands.
    pub status: Status,
    /// The approval groups of the rule that applies to the current version.
    pub groups: Vec<ApprovalGroup>,
    /// Approvals counted on the current version, in vote order.
    pub approvals: Vec<Approval>,
    /// Everyone who voted (either way) on the current version.
    pub voters: BTreeSet<PersonId>,
    /// When a pending request expires.
    pub expires_at: DateTime<Utc>,
}

impl Request {
    /// A new pending request at version 1.
    pub fn new(requester: PersonId, groups: Vec<ApprovalGroup>, expires_at: DateTime<Utc>) -> Self {
        Request {
            requester,
            version: 1,
            status: Status::Pending,
            groups,
            approvals: Vec::new(),
            voters: BTreeSet::new(),
            expires_at,
        }
    }

    /// The quorum's progress on the current version.
    pub fn progress(&self) -> Progress {
        quorum::progress(&self.groups, &self.approvals)
    }

    /// Whether someone with these roles could approve or reject this request.
    pub fn is_eligible(&self, person: &PersonId, roles: &BTreeSet<Role>) -> bool {
        *person != self.requester && quorum::is_eligible(&self.groups, roles)
    }

    /// Whether the request is pending and past its expiry at `now`.
    pub fn is_due_to_expire(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Pending && now >= self.expires_at
    }

    fn ensure_pending(&self) -> Result<(), RefusalReason> {
        match self.status {
            Status::Pending => Ok(()),
            Status::Approved | Status::Rejected | Status::Cancelled | Status::Expired => {
                Err(RefusalReason::AlreadyDecided)
            }
        }
    }

    /// Casts a vote on `version`. On success the request is updated; on refusal nothing changes.
    pub fn vote(
        &mut self,
        voter: &PersonId,
        roles: &BTreeSet<Role>,
        version: u32,
        kind: VoteKind,
        reason: Option<&str>,
    ) -> Result<VoteEffect, RefusalReason> {
        self.ensure_pending()?;
        if version != self.version {
            return Err(RefusalReason::StaleVersion);
        }
        if *voter == self.requester {
            return Err(RefusalReason::SelfApproval);
        }
        if !quorum::is_eligible(&self.groups, roles) {
            return Err(RefusalReason::NotPermitted);
        }
        if self.voters.contains(voter) {
            return Err(RefusalReason::AlreadyVoted);
        }
        match kind {
            VoteKind::Reject => {
                check_reason(reason, true)?;
                self.voters.insert(voter.clone());
                self.status = Status::Rejected;
                Ok(VoteEffect::Rejected)
            }
            VoteKind::Approve => {
                let approval = Approval {
                    voter: voter.clone(),
                    roles: roles.clone(),
                };
                if !quorum::would_count(&self.groups, &self.approvals, &approval) {
                    return Err(RefusalReason::GroupFull);
                }
                self.voters.insert(voter.clone());
                self.approvals.push(approval);
                let approved = self.progress().is_complete();
                if approved {
                    self.status = Status::Approved;
                }
                Ok(VoteEffect::Counted { approved })
            }
        }
    }

    /// The requester withdraws a pending request.
    pub fn cancel(&mut self, actor: &PersonId, reason: Option<&str>) -> Result<(), RefusalReason> {
        self.ensure_pending()?;
        if *actor != self.requester {
            return Err(RefusalReason::NotPermitted);
        }
        check_reason(reason, false)?;
        self.status = Status::Cancelled;
        Ok(())
    }

    /// The requester changes a pending request: a new version under `groups` (the rule that
    /// applies to the new values), with every earlier vote void. The expiry does not move, so
    /// amending cannot keep a request alive forever.
    pub fn amend(&mut self, actor: &PersonId, groups: Vec<ApprovalGroup>) -> Result<u32, RefusalReason> {
        self.ensure_pending()?;
        if *actor != self.requester {
            return Err(RefusalReason::NotPermitted);
        }
        self.version += 1;
        self.groups = groups;
        self.approvals.clear();
        self.voters.clear();
        Ok(self.version)
    }

    /// Expires a pending request that is past its expiry.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Result<(), RefusalReason> {
        self.ensure_pending()?;
        if !self.is_due_to_expire(now) {
            return Err(RefusalReason::InvalidInput);
        }
        self.status = Status::Expired;
        Ok(())
    }
}

/// A reason must be present when `required`, and never longer than [`MAX_REASON_CHARS`].
fn check_reason(reason: Option<&str>, required: bool) -> Result<(), RefusalReason> {
    let text = reason.map(str::trim).unwrap_or("");
    if required && text.is_empty() {
        return Err(RefusalReason::ReasonRequired);
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(RefusalReason::InvalidInput);
    }
    Ok(())
}
