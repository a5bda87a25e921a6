//! Tests of the approval domain: examples first, then properties over random vote sequences.

use super::*;
use crate::policy::{ApprovalGroup, PersonId, Role};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn p(id: &str) -> PersonId {
    PersonId::parse(id).unwrap()
}

fn roles(rs: &[&str]) -> BTreeSet<Role> {
    rs.iter().map(|r| Role::parse(r).unwrap()).collect()
}

fn group(role: &str, count: u32) -> ApprovalGroup {
    ApprovalGroup {
        role: Role::parse(role).unwrap(),
        count,
    }
}

fn large_invoice() -> Request {
    let expires = Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap();
    Request::new(
        p("alice"),
        vec![group("finance-approver", 1), group("finance-director", 1)],
        expires,
    )
}

#[test]
fn a_requester_can_never_approve_their_own_request() {
    let mut r = large_invoice();
    let refused = r.vote(&p("alice"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None);
    assert_eq!(refused, Err(RefusalReason::SelfApproval));
    assert_eq!(r.status, Status::Pending);
    assert!(r.approvals.is_empty());
}

#[test]
fn an_analyst_cannot_approve_an_invoice() {
    let mut r = large_invoice();
    let refused = r.vote(&p("bob"), &roles(&["analyst"]), 1, VoteKind::Approve, None);
    assert_eq!(refused, Err(RefusalReason::NotPermitted));
}

#[test]
fn a_large_invoice_needs_both_groups() {
    let mut r = large_invoice();
    let first = r.vote(&p("carol"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None);
    assert_eq!(first, Ok(VoteEffect::Counted { approved: false }));
    assert_eq!(
        r.progress().summary(),
        "1 of 1 finance-approver, 0 of 1 finance-director"
    );
    let second = r.vote(&p("dave"), &roles(&["finance-director"]), 1, VoteKind::Approve, None);
    assert_eq!(second, Ok(VoteEffect::Counted { approved: true }));
    assert_eq!(r.status, Status::Approved);
}

#[test]
fn a_second_approver_for_a_met_group_is_refused_as_group_full() {
    let mut r = large_invoice();
    r.vote(&p("carol"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None)
        .unwrap();
    let refused = r.vote(&p("heidi"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None);
    assert_eq!(refused, Err(RefusalReason::GroupFull));
    assert_eq!(r.approvals.len(), 1);
}

#[test]
fn a_person_with_two_roles_fills_one_slot_only() {
    let mut r = large_invoice();
    let both = roles(&["finance-approver", "finance-director"]);
    assert_eq!(
        r.vote(&p("zoe"), &both, 1, VoteKind::Approve, None),
        Ok(VoteEffect::Counted { approved: false })
    );
    assert_eq!(
        r.vote(&p("zoe"), &both, 1, VoteKind::Approve, None),
        Err(RefusalReason::AlreadyVoted)
    );
    assert_eq!(r.status, Status::Pending);
}

#[test]
fn the_matching_moves_a_two_role_approver_to_make_room() {
    // zoe could fill either group; she is counted as approver first. carol can only fill the
    // approver group: an exact matching moves zoe to the director slot, and the quorum is met.
    let mut r = large_invoice();
    let both = roles(&["finance-approver", "finance-director"]);
    r.vote(&p("zoe"), &both, 1, VoteKind::Approve, None).unwrap();
    let effect = r.vote(&p("carol"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None);
    assert_eq!(effect, Ok(VoteEffect::Counted { approved: true }));
    let progress = r.progress();
    assert_eq!(progress.groups[0].filled_by, vec![p("carol")]);
    assert_eq!(progress.groups[1].filled_by, vec![p("zoe")]);
}

#[test]
fn a_reject_needs_a_reason_and_decides_at_once() {
    let mut r = large_invoice();
    let carol = roles(&["finance-approver"]);
    assert_eq!(
        r.vote(&p("carol"), &carol, 1, VoteKind::Reject, Some("  ")),
        Err(RefusalReason::ReasonRequired)
    );
    assert_eq!(
        r.vote(&p("carol"), &carol, 1, VoteKind::Reject, Some("duplicate invoice")),
        Ok(VoteEffect::Rejected)
    );
    assert_eq!(r.status, Status::Rejected);
}

#[test]
fn a_reason_over_the_limit_is_invalid_input() {
    let mut r = large_invoice();
    let long = "x".repeat(MAX_REASON_CHARS + 1);
    let refused = r.vote(
        &p("carol"),
        &roles(&["finance-approver"]),
        1,
        VoteKind::Reject,
        Some(&long),
    );
    assert_eq!(refused, Err(RefusalReason::InvalidInput));
}

#[test]
fn only_the_requester_can_cancel() {
    let mut r = large_invoice();
    assert_eq!(r.cancel(&p("carol"), None), Err(RefusalReason::NotPermitted));
    assert_eq!(r.cancel(&p("alice"), Some("wrong vendor")), Ok(()));
    assert_eq!(r.status, Status::Cancelled);
}

#[test]
fn an_amendment_voids_earlier_votes_and_refuses_votes_for_the_old_version() {
    let mut r = large_invoice();
    r.vote(&p("carol"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None)
        .unwrap();
    assert_eq!(
        r.amend(&p("bob"), vec![group("finance-approver", 1)]),
        Err(RefusalReason::NotPermitted)
    );
    assert_eq!(r.amend(&p("alice"), vec![group("finance-approver", 1)]), Ok(2));
    assert!(r.approvals.is_empty());
    assert_eq!(
        r.vote(&p("heidi"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None),
        Err(RefusalReason::StaleVersion)
    );
    assert_eq!(
        r.vote(&p("carol"), &roles(&["finance-approver"]), 2, VoteKind::Approve, None),
        Ok(VoteEffect::Counted { approved: true })
    );
}

#[test]
fn a_request_expires_only_once_it_is_due() {
    let mut r = large_invoice();
    let before = r.expires_at - chrono::TimeDelta::seconds(1);
    assert!(!r.is_due_to_expire(before));
    assert_eq!(r.expire(before), Err(RefusalReason::InvalidInput));
    assert!(r.is_due_to_expire(r.expires_at));
    assert_eq!(r.expire(r.expires_at), Ok(()));
    assert_eq!(r.status, Status::Expired);
}

#[test]
fn nothing_changes_a_final_state() {
    let mut r = large_invoice();
    r.cancel(&p("alice"), None).unwrap();
    let snapshot = r.clone();
    assert_eq!(
        r.vote(&p("carol"), &roles(&["finance-approver"]), 1, VoteKind::Approve, None),
        Err(RefusalReason::AlreadyDecided)
    );
    assert_eq!(r.amend(&p("alice"), vec![]), Err(RefusalReason::AlreadyDecided));
    assert_eq!(r.expire(r.expires_at), Err(RefusalReason::AlreadyDecided));
    assert_eq!(r.cancel(&p("alice"), None), Err(RefusalReason::AlreadyDecided));
    assert_eq!(r, snapshot);
}

/// One random action against a request.
#[derive(Clone, Debug)]
enum Action {
    Vote { who: usize, reject: bool, version_lag: u32 },
    Cancel { who: usize },
    Amend { who: usize },
    Expire,
}

const PEOPLE: [&str; 6] = ["p0", "p1", "p2", "p3", "p4", "p5"];
const ROLES: [&str; 3] = ["ra", "rb", "rc"];

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (0..PEOPLE.len(), prop::bool::weighted(0.1), prop_oneof![4 => Just(0u32), 1 => Just(1u32)])
            .prop_map(|(who, reject, version_lag)| Action::Vote { who, reject, version_lag }),
        1 => (0..PEOPLE.len()).prop_map(|who| Action::Cancel { who }),
        1 => (0..PEOPLE.len()).prop_map(|who| Action::Amend { who }),
        1 => Just(Action::Expire),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<BTreeSet<Role>>, Vec<ApprovalGroup>, Vec<Action>)> {
    let person_roles = prop::collection::vec(prop::collection::btree_set(0..ROLES.len(), 0..=2), PEOPLE.len())
        .prop_map(|v| {
            v.into_iter()
                .map(|s| s.into_iter().map(|i| Role::parse(ROLES[i]).unwrap()).collect())
                .collect()
        });
    let groups = prop::collection::btree_map(0..ROLES.len(), 1..=3u32, 1..=3).prop_map(|m| {
        m.into_iter()
            .map(|(r, count)| ApprovalGroup {
                role: Role::parse(ROLES[r]).unwrap(),
                count,
            })
            .collect()
    });
    (person_roles, groups, prop::collection::vec(action(), 0..40))
}

proptest! {
    #[test]
    fn never_approved_without_every_group_met_by_distinct_eligible_non_requesters(
        (person_roles, groups, actions) in scenario()
    ) {
        let requester = p(PEOPLE[0]);
        let expires = Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap();
        let mut r = Request::new(requester.clone(), groups.clone(), expires);
        let mut final_seen: Option<Request> = None;
        for a in actions {
            let before = r.clone();
            let result = match a {
                Action::Vote { who, reject, version_lag } => {
                    let kind = if reject { VoteKind::Reject } else { VoteKind::Approve };
                    r.vote(&p(PEOPLE[who]), &person_roles[who], r.version.saturating_sub(version_lag), kind, Some("because"))
                        .map(|_| ())
                }
                Action::Cancel { who } => r.cancel(&p(PEOPLE[who]), None),
                Action::Amend { who } => r.amend(&p(PEOPLE[who]), groups.clone()).map(|_| ()),
                Action::Expire => r.expire(expires),
            };
            if result.is_err() {
                prop_assert_eq!(&r, &before, "a refusal changed the request");
            }
            if let Some(f) = &final_seen {
                prop_assert_eq!(&r, f, "a final state changed");
            }
            if r.status.is_final() && final_seen.is_none() {
                final_seen = Some(r.clone());
            }
            // Invariant: counted approvals are distinct non-requesters, each eligible.
            let distinct: BTreeSet<_> = r.approvals.iter().map(|a| a.voter.clone()).collect();
            prop_assert_eq!(distinct.len(), r.approvals.len());
            prop_assert!(!distinct.contains(&requester));
            for a in &r.approvals {
                prop_assert!(r.groups.iter().any(|g| a.roles.contains(&g.role)));
            }
            if r.status == Status::Approved {
                // Every group met, by an assignment where each person fills one slot.
                let progress = r.progress();
                prop_assert!(progress.is_complete());
                let mut all: Vec<_> = progress.groups.iter().flat_map(|g| g.filled_by.clone()).collect();
                let n = all.len();
                all.sort();
                all.dedup();
                prop_assert_eq!(all.len(), n, "one person filled two slots");
                for g in &progress.groups {
                    for who in &g.filled_by {
                        let idx = PEOPLE.iter().position(|x| p(x) == *who).unwrap();
                        prop_assert!(person_roles[idx].contains(&g.role));
                    }
                }
            }
        }
    }

    #[test]
    fn an_approval_is_refused_as_group_full_only_when_no_matching_could_use_it(
        (person_roles, groups, _a) in scenario(), order in Just((1..PEOPLE.len()).collect::<Vec<usize>>()).prop_shuffle()
    ) {
        // Whatever the order of approvals, the number counted equals the size of the best
        // possible assignment of these people to slots (exact quorum, order-independent).
        let expires = Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap();
        let mut r = Request::new(p(PEOPLE[0]), groups.clone(), expires);
        for &who in &order {
            let _ = r.vote(&p(PEOPLE[who]), &person_roles[who], 1, VoteKind::Approve, None);
        }
        let everyone: Vec<Approval> = (1..PEOPLE.len())
            .filter(|&i| quorum::is_eligible(&groups, &person_roles[i]))
            .map(|i| Approval { voter: p(PEOPLE[i]), roles: person_roles[i].clone() })
            .collect();
        let best: usize = quorum::progress(&groups, &everyone).groups.iter().map(|g| g.filled_by.len()).sum();
        let counted: usize = r.progress().groups.iter().map(|g| g.filled_by.len()).sum();
        prop_assert_eq!(counted, best);
    }
}
