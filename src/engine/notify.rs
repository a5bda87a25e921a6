//! Which chat messages an accepted change causes. They are queued in the change's own
//! transaction, so a committed decision always has its confirmation on the way.

use super::load::Loaded;
use super::Engine;
use crate::approval::Status;
use crate::outbox::{self, ChatPlace, ChatUser, Intent, Platform};
use crate::policy::{Person, PersonId};
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// Where `person` can be reached privately on the platform of `place` (preferring an identity
/// in the same Slack workspace).
pub fn chat_user(person: &Person, place: &ChatPlace) -> Option<ChatUser> {
    match place.platform {
        Platform::Slack => {
            let same = person
                .slack
                .iter()
                .find(|s| Some(&s.workspace) == place.workspace.as_ref());
            same.or(person.slack.first()).map(|s| ChatUser {
                platform: Platform::Slack,
                workspace: Some(s.workspace.clone()),
                user: s.user.clone(),
            })
        }
        Platform::Discord => person.discord.first().map(|id| ChatUser {
            platform: Platform::Discord,
            workspace: place.workspace.clone(),
            user: id.clone(),
        }),
    }
}

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

    /// Queues the messages for a change to the loaded request: on opening, the card in its
    /// channel and privately to each approver; afterwards, an update of every copy; on a final
    /// state, a confirmation to the requester. Requests without a chat origin get none.
    pub(super) async fn notify(&self, conn: &mut PgConnection, l: &Loaded, opened: bool) -> anyhow::Result<()> {
        let Some(place) = l.row.origin.as_ref().map(|o| &o.0) else {
            return Ok(());
        };
        let r#ref = l.row.r#ref.clone();
        if opened {
            outbox::enqueue(
                conn,
                &Intent::PostCard {
                    r#ref: r#ref.clone(),
                    place: place.clone(),
                },
            )
            .await?;
            for person in self.approvers_of(l) {
                if let Some(to) = chat_user(person, place) {
                    outbox::enqueue(
                        conn,
                        &Intent::DmCard {
                            r#ref: r#ref.clone(),
                            to,
                        },
                    )
                    .await?;
                }
            }
        } else {
            outbox::enqueue(conn, &Intent::UpdateCards { r#ref: r#ref.clone() }).await?;
        }
        let tell_requester = match l.domain.status {
            Status::Approved | Status::Rejected | Status::Expired => true,
            Status::Pending | Status::Cancelled => false,
        };
        if tell_requester {
            let requester = self.policy.directory.person(&l.domain.requester);
            if let Some(to) = requester.and_then(|p| chat_user(p, place)) {
                outbox::enqueue(conn, &Intent::Confirm { r#ref, to }).await?;
            }
        }
        Ok(())
    }
}
