//! Which chat messages an accepted change causes. They are queued in the change's own
//! transaction, so a committed decision always has its confirmation on the way.

use super::load::Loaded;
use super::work::Work;
use super::Engine;
use crate::approval::Status;
use crate::chat::address::ChatPlace;
use crate::outbox::Intent;
use crate::policy::{Person, PersonId, WebhookEvent};
use std::collections::BTreeMap;

impl Engine {
    /// Everyone who may approve the loaded request under its current rule, except its requester.
    pub(super) fn approvers_of(&self, l: &Loaded) -> Vec<&Person> {
        let dir = &self.policy.directory;
        let mut out: BTreeMap<&PersonId, &Person> = BTreeMap::new();
        for g in &l.domain.groups {
            for p in dir.holders(&g.role) {
                if p.id != l.domain.requester {
                    out.insert(&p.id, p);
                }
            }
        }
        out.into_values().collect()
    }

    /// The card of `ref`, privately to each member of `workflow`'s owner team: how the owners
    /// are told that something needs them (an effect that failed; the card says what and why).
    pub(crate) fn tell_owners(&self, r#ref: &str, workflow: &str) -> Vec<Intent> {
        self.owners_reach(workflow)
            .into_iter()
            .map(|to| Intent::DmCard {
                r#ref: r#ref.to_string(),
                to,
            })
            .collect()
    }

    /// The owner team of `workflow`, each member reached privately on the first platform they
    /// use.
    fn owners_reach(&self, workflow: &str) -> Vec<crate::chat::address::ChatUser> {
        let dir = &self.policy.directory;
        let Some(team) = self.policy.workflow(workflow).and_then(|w| dir.teams.get(&w.owner)) else {
            return Vec::new();
        };
        team.members
            .iter()
            .filter_map(|m| dir.person(m))
            .filter_map(|p| {
                crate::chat::address::Platform::ALL
                    .into_iter()
                    .find_map(|platform| p.reach_on(platform))
            })
            .collect()
    }

    /// Where the loaded request's cards go: the channel it was opened from, or else (opened
    /// through the API) the channels its workflow announces requests in.
    fn places_of(&self, l: &Loaded) -> Vec<ChatPlace> {
        if let Some(origin) = &l.row.origin {
            return vec![origin.0.clone()];
        }
        self.policy
            .workflow(&l.row.workflow)
            .map_or_else(Vec::new, |wf| wf.announce.channels.clone())
    }

    /// Queues the messages for a change to the loaded request: on opening, the card in its
    /// channels and privately to each approver (once, on the first platform that reaches them);
    /// afterwards, an update of every copy; on a final state, a confirmation to the requester
    /// and the decision receipt to each subscribed webhook. Requests with no channel get no chat
    /// messages.
    pub(super) fn notify(&self, work: &mut Work<'_>, l: &Loaded, opened: bool) {
        self.queue_webhooks(work, l);
        let places = self.places_of(l);
        if places.is_empty() {
            return;
        }
        let r#ref = l.row.r#ref.to_string();
        let reach = |person: &Person| places.iter().find_map(|place| person.reach(place));
        if opened {
            for place in &places {
                work.send(Intent::PostCard {
                    r#ref: r#ref.clone(),
                    place: place.clone(),
                });
            }
            for to in self.approvers_of(l).into_iter().filter_map(reach) {
                work.send(Intent::DmCard {
                    r#ref: r#ref.clone(),
                    to,
                });
            }
        } else {
            work.send(Intent::UpdateCards { r#ref: r#ref.clone() });
        }
        let tell_requester = match l.domain.status {
            Status::Approved | Status::Rejected | Status::Expired => true,
            Status::Pending | Status::Cancelled => false,
        };
        if tell_requester {
            let requester = self.policy.directory.person(&l.domain.requester);
            if let Some(to) = requester.and_then(reach) {
                work.send(Intent::Confirm { r#ref, to });
            }
        }
    }

    /// On a final state, the receipt to every webhook of the workflow that subscribes to it.
    fn queue_webhooks(&self, work: &mut Work<'_>, l: &Loaded) {
        let event = match l.domain.status {
            Status::Pending => return,
            Status::Approved => WebhookEvent::Approved,
            Status::Rejected => WebhookEvent::Rejected,
            Status::Cancelled => WebhookEvent::Cancelled,
            Status::Expired => WebhookEvent::Expired,
        };
        let Some(wf) = self.policy.workflow(&l.row.workflow) else {
            return;
        };
        for hook in wf.webhooks.iter().filter(|h| h.events.contains(&event)) {
            work.send(Intent::Webhook {
                r#ref: l.row.r#ref.to_string(),
                url: hook.url.clone(),
                event: event.as_str().to_owned(),
            });
        }
    }
}
