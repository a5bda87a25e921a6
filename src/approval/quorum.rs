//! Quorum by groups: which approvals count, decided by an exact matching of people to slots.
//!
//! Every group needs `count` approvals from distinct people, and one person fills at most one
//! slot. A person holding several roles could fill a slot in more than one group, so a greedy
//! "first group that fits" would sometimes report a quorum as unreachable when it is not. We
//! compute a maximum bipartite matching of approvers to slots instead: a new approval counts
//! exactly when it makes the matching larger.

use crate::policy::{ApprovalGroup, PersonId, Role};
use std::collections::BTreeSet;

/// One counted approval: who, and which roles they held when they voted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The approver.
    pub voter: PersonId,
    /// The roles the approver held at the time of the vote.
    pub roles: BTreeSet<Role>,
}

/// How far one group has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupProgress {
    /// The role the group draws from.
    pub role: Role,
    /// Approvals needed.
    pub needed: u32,
    /// The people whose approval fills a slot of this group, in vote order.
    pub filled_by: Vec<PersonId>,
}

impl GroupProgress {
    /// Whether the group has reached its count.
    pub fn is_met(&self) -> bool {
        self.filled_by.len() as u32 >= self.needed
    }
}

/// The state of a quorum for one version of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// One entry per group, in the rule's order.
    pub groups: Vec<GroupProgress>,
}

impl Progress {
    /// Whether every group has reached its count.
    pub fn is_complete(&self) -> bool {
        self.groups.iter().all(GroupProgress::is_met)
    }

    /// What the unmet groups still lack: "1 finance-director" (see [`missing_phrase`]).
    pub fn missing(&self) -> String {
        missing_phrase(
            self.groups
                .iter()
                .map(|g| (g.needed, g.filled_by.len(), g.role.as_str())),
        )
    }

    /// "1 of 1 finance-approver, 0 of 1 finance-director": how many of each group's slots are
    /// filled (the audit entry's `progress`).
    pub fn summary(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("{} of {} {}", g.filled_by.len(), g.needed, g.role))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a quorum still lacks, from each group's `(needed, filled, role)`: "1 finance-director",
/// "1 finance-approver and 2 security-approver", or "nothing" when every group is met. People
/// read "still needed" as what is missing, never as a count of what is done.
pub fn missing_phrase<'a>(groups: impl Iterator<Item = (u32, usize, &'a str)>) -> String {
    let parts: Vec<String> = groups
        .filter_map(|(needed, filled, role)| {
            let missing = (needed as usize).saturating_sub(filled);
            (missing > 0).then(|| format!("{missing} {role}"))
        })
        .collect();
    match parts.is_empty() {
        true => "nothing".to_string(),
        false => crate::policy::input::listed(&parts, "and"),
    }
}

/// Slots expanded from the groups: slot i belongs to group `slot_group[i]`.
fn slots(groups: &[ApprovalGroup]) -> Vec<usize> {
    groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| std::iter::repeat_n(g, group.count as usize))
        .collect()
}

/// A maximum matching of approvals to slots; `owner[slot] = Some(approval index)`.
fn matching(groups: &[ApprovalGroup], approvals: &[Approval]) -> Vec<Option<usize>> {
    let slot_group = slots(groups);
    let mut owner: Vec<Option<usize>> = vec![None; slot_group.len()];
    for a in 0..approvals.len() {
        let mut seen = vec![false; slot_group.len()];
        augment(a, groups, approvals, &slot_group, &mut owner, &mut seen);
    }
    owner
}

/// Kuhn's augmenting path step: tries to give approval `a` a slot, moving others if needed.
fn augment(
    a: usize,
    groups: &[ApprovalGroup],
    approvals: &[Approval],
    slot_group: &[usize],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for slot in 0..slot_group.len() {
        if seen[slot] || !approvals[a].roles.contains(&groups[slot_group[slot]].role) {
            continue;
        }
        seen[slot] = true;
        let free = match owner[slot] {
            None => true,
            Some(other) => augment(other, groups, approvals, slot_group, owner, seen),
        };
        if free {
            owner[slot] = Some(a);
            return true;
        }
    }
    false
}

/// How many of `approvals` count towards the groups.
fn matched(groups: &[ApprovalGroup], approvals: &[Approval]) -> usize {
    matching(groups, approvals).iter().flatten().count()
}

/// Whether `candidate` would fill an open slot given the approvals already counted.
pub fn would_count(groups: &[ApprovalGroup], counted: &[Approval], candidate: &Approval) -> bool {
    let before = matched(groups, counted);
    let mut with = counted.to_vec();
    with.push(candidate.clone());
    matched(groups, &with) > before
}

/// The progress of each group under a maximum matching of the counted approvals.
pub fn progress(groups: &[ApprovalGroup], counted: &[Approval]) -> Progress {
    let slot_group = slots(groups);
    let owner = matching(groups, counted);
    let mut per_group: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (slot, who) in owner.iter().enumerate() {
        if let Some(a) = who {
            per_group[slot_group[slot]].push(*a);
        }
    }
    Progress {
        groups: groups
            .iter()
            .zip(per_group)
            .map(|(g, mut idx)| {
                idx.sort_unstable();
                GroupProgress {
                    role: g.role.clone(),
                    needed: g.count,
                    filled_by: idx.into_iter().map(|i| counted[i].voter.clone()).collect(),
                }
            })
            .collect(),
    }
}

/// Whether someone with `roles` could approve under `groups` at all.
pub fn is_eligible(groups: &[ApprovalGroup], roles: &BTreeSet<Role>) -> bool {
    groups.iter().any(|g| roles.contains(&g.role))
}
