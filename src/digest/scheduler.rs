//! The scheduler: on every tick it expires overdue requests, sends due reminders, and sends each
//! owner's digest once per slot. A slot is claimed by a unique row, so any number of replicas
//! may tick at once and each slot still goes out exactly once.

use super::compose::{compose, Digest};
use super::schedule::due_slot;
use crate::audit::{Action, AuditOutcome, NewEntry};
use crate::chat::address::Platform;
use crate::engine::Engine;
use crate::outbox::{self, Intent};
use crate::policy::{DigestSchedule, Team, TeamId};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Digests sent: (team, slot).
    pub digests: Vec<(String, DateTime<Utc>)>,
    /// Reminder messages queued.
    pub reminders: usize,
    /// Requests expired.
    pub expired: usize,
}

/// Runs the schedules of every owner team.
#[derive(Clone, Debug)]
pub struct Scheduler {
    engine: Engine,
    grace: TimeDelta,
    platforms: Vec<Platform>,
}

impl Scheduler {
    /// A scheduler sending digests on `platforms` (those this deployment serves); a brand-new
    /// schedule fires for a slot at most ten minutes old.
    pub fn new(engine: Engine, platforms: Vec<Platform>) -> Self {
        Scheduler {
            engine,
            grace: TimeDelta::minutes(10),
            platforms,
        }
    }

    /// One round of everything that is due at the engine's clock.
    pub async fn tick(&self) -> anyhow::Result<TickReport> {
        let expired = self.engine.expire_due().await?.len();
        let reminders = self.engine.send_reminders().await?;
        let mut digests = Vec::new();
        let now = self.engine.clock().now();
        for team in self.engine.policy().directory.teams.values() {
            let Some(schedule) = &team.digest else { continue };
            let last = self.last_slot(&team.id, true).await?;
            if let Some(slot) = due_slot(&schedule.schedule(), schedule.tz(), last, now, self.grace) {
                if self.claim_and_send(team, schedule, slot, false).await?.is_some() {
                    digests.push((team.id.to_string(), slot));
                }
            }
        }
        Ok(TickReport {
            digests,
            reminders,
            expired,
        })
    }

    fn team(&self, id: &str) -> anyhow::Result<(&Team, &DigestSchedule)> {
        let dir = &self.engine.policy().directory;
        let team = TeamId::parse(id)
            .ok()
            .and_then(|t| dir.teams.get(&t))
            .with_context(|| {
                let known: Vec<&str> = dir.teams.keys().map(TeamId::as_str).collect();
                format!("there is no team {id:?} in people.toml; teams: {}", known.join(", "))
            })?;
        let schedule = team
            .digest
            .as_ref()
            .with_context(|| format!("team {id} has no [team.{id}.digest] in people.toml"))?;
        Ok((team, schedule))
    }

    /// The digest `team` would get now (since its last one, or the last 24 hours).
    pub async fn preview(&self, team: &str) -> anyhow::Result<Digest> {
        let (team, _) = self.team(team)?;
        let now = self.engine.clock().now();
        let since = self
            .last_slot(&team.id, false)
            .await?
            .unwrap_or(now - TimeDelta::hours(24));
        compose(&self.engine, &team.id, since, now).await
    }

    /// Sends `team`'s digest now, outside its schedule.
    pub async fn send_now(&self, team: &str) -> anyhow::Result<Digest> {
        let (team, schedule) = self.team(team)?;
        let now = self.engine.clock().now();
        self.claim_and_send(team, schedule, now, true)
            .await?
            .context("a digest for this instant was already sent")
    }

    async fn last_slot(&self, team: &TeamId, scheduled_only: bool) -> anyhow::Result<Option<DateTime<Utc>>> {
        crate::store::digest::last_slot(self.engine.pool(), team.as_str(), scheduled_only).await
    }

    /// Composes the digest for `slot`, claims the slot and queues the messages in one
    /// transaction; `None` when another replica claimed it first.
    async fn claim_and_send(
        &self,
        team: &Team,
        schedule: &DigestSchedule,
        slot: DateTime<Utc>,
        manual: bool,
    ) -> anyhow::Result<Option<Digest>> {
        let since = self
            .last_slot(&team.id, false)
            .await?
            .unwrap_or(slot - TimeDelta::hours(24));
        let digest = compose(&self.engine, &team.id, since, slot).await?;
        let mut tx = self.engine.pool().begin().await?;
        let claim = crate::store::digest::Slot {
            team: team.id.as_str(),
            at: slot,
            covers_from: since,
            manual,
            claimed_at: self.engine.clock().now(),
        };
        if !crate::store::digest::claim_slot(&mut tx, claim).await? {
            return Ok(None);
        }
        let value = serde_json::to_value(&digest)?;
        let mut queued = Vec::new();
        for intent in self.destinations(team, schedule, &value) {
            let id = crate::store::effects::enqueue(&mut tx, intent.row()?).await?;
            queued.push(outbox::Queued::of(id, &intent));
        }
        let recipients = queued.len();
        let e = NewEntry {
            identity: Some("system".into()),
            details: json!({
                "team": team.id.as_str(), "slot": slot, "since": since, "manual": manual, "recipients": recipients,
                "pending": digest.pending.len(), "refusals": digest.refusals.values().sum::<i64>(),
                "chain_verified_through": digest.chain.verified_through,
            }),
            ..NewEntry::new(self.engine.clock().now(), Action::DigestSent, AuditOutcome::Done)
        };
        crate::store::effects::append(&mut tx, e.row()).await?;
        tx.commit().await?;
        self.engine.wake_outbox(&queued);
        Ok(Some(digest))
    }

    /// Where the digest goes: each member privately (on every platform they use), and the
    /// team's channels.
    fn destinations(&self, team: &Team, schedule: &DigestSchedule, digest: &serde_json::Value) -> Vec<Intent> {
        let mut out = Vec::new();
        let dir = &self.engine.policy().directory;
        let name = team.id.to_string();
        if schedule.dm_members {
            for person in team.members.iter().filter_map(|m| dir.person(m)) {
                for to in self.platforms.iter().filter_map(|p| person.reach_on(*p)) {
                    out.push(Intent::DigestToUser {
                        team: name.clone(),
                        digest: digest.clone(),
                        to,
                    });
                }
            }
        }
        for place in schedule
            .channels
            .iter()
            .filter(|p| self.platforms.contains(&p.platform))
        {
            out.push(Intent::DigestToChannel {
                team: name.clone(),
                digest: digest.clone(),
                place: place.clone(),
            });
        }
        out
    }
}

/// Ticks every `every` until `stop` is cancelled; failures are logged and retried next tick. A
/// tick in hand is finished, so no digest is left half sent.
pub fn spawn(
    tasks: &TaskTracker,
    scheduler: Scheduler,
    every: std::time::Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match scheduler.tick().await {
                Ok(r) if !r.digests.is_empty() || r.reminders > 0 || r.expired > 0 => {
                    tracing::info!(
                        digests = r.digests.len(),
                        reminders = r.reminders,
                        expired = r.expired,
                        "scheduler tick"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "scheduler tick failed; will retry"),
            }
        }
    })
}
