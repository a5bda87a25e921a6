//! Delivers outbox intents: renders cards from the request's current state and hands each
//! message to the platform it is addressed on ([`Platforms`]), remembering every posted copy;
//! receipts go to webhooks. Nothing here knows which platforms exist.

use super::address::{ChatPlace, ChatUser};
use super::platform::{Destination, Platforms, Posted};
use super::render::{self, Card};
use crate::api::webhook::WebhookSender;
use crate::engine::{Engine, RequestView};
use crate::outbox::{Completions, Deliverer, DeliveryError, Intent, Job};
use crate::store::chat_messages::{self, CardCopy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Posted copies of cards, by request ref.
type CopiesByRef = HashMap<String, Vec<CardCopy>>;

/// The platforms, webhooks and effect targets the outbox delivers through.
#[derive(Clone, Debug)]
pub struct ChatDeliverer {
    engine: Engine,
    platforms: Platforms,
    webhooks: Option<WebhookSender>,
    effects: Option<crate::effect::runner::EffectRunner>,
    /// Where posted copies are remembered when not in the database: the console, which only
    /// shows what would be sent, keeps them for as long as it runs.
    shown_copies: Option<Arc<Mutex<CopiesByRef>>>,
}

fn transient(e: anyhow::Error) -> DeliveryError {
    DeliveryError::Transient(format!("{e:#}"))
}

impl ChatDeliverer {
    /// A deliverer; messages for a platform it has no implementation of are dead-lettered.
    pub fn new(engine: Engine, platforms: Platforms) -> Self {
        ChatDeliverer {
            engine,
            platforms,
            webhooks: None,
            effects: None,
            shown_copies: None,
        }
    }

    /// A deliverer that shows what would be sent (the console): posted copies are remembered
    /// in memory, not recorded, so a server delivering the same messages later is not misled.
    pub fn showing(engine: Engine, platforms: Platforms) -> Self {
        ChatDeliverer {
            shown_copies: Some(Arc::default()),
            ..Self::new(engine, platforms)
        }
    }

    /// Shows `jobs` through the platforms, one after the other in their order; returns each
    /// one's result. Nothing is marked delivered.
    pub async fn show(&self, jobs: &[Job]) -> anyhow::Result<Vec<Result<(), DeliveryError>>> {
        let round = self.prefetch(jobs).await?;
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            results.push(self.deliver_in(&round, job).await);
        }
        Ok(results)
    }

    /// Also runs approved effects on their targets (without it they are dead-lettered).
    pub fn with_effects(mut self, effects: crate::effect::runner::EffectRunner) -> Self {
        self.effects = Some(effects);
        self
    }

    /// Also delivers decision receipts to webhooks (without it they are dead-lettered).
    pub fn with_webhooks(mut self, webhooks: WebhookSender) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    fn view(&self, round: &Round, r#ref: &str) -> Result<RequestView, DeliveryError> {
        round
            .views
            .get(r#ref)
            .cloned()
            .ok_or_else(|| DeliveryError::Permanent(format!("no request {ref}")))
    }

    /// Reads what a round of jobs needs in two statements, rather than several per job.
    async fn prefetch(&self, jobs: &[Job]) -> anyhow::Result<Round> {
        let mut refs: Vec<String> = jobs
            .iter()
            .filter(|j| !matches!(j.intent, Intent::Webhook { .. }))
            .filter_map(|j| j.intent.r#ref().map(str::to_owned))
            .collect();
        refs.sort();
        refs.dedup();
        let updated: Vec<String> = jobs
            .iter()
            .filter_map(|j| match &j.intent {
                Intent::UpdateCards { r#ref } => Some(r#ref.clone()),
                _ => None,
            })
            .collect();
        let views = match refs.is_empty() {
            true => HashMap::new(),
            false => self.engine.current_views(&refs).await?,
        };
        let mut copies = chat_messages::copies_of(self.engine.pool(), &updated).await?;
        if let Some(shown) = &self.shown_copies {
            let shown = shown.lock().unwrap_or_else(|p| p.into_inner());
            for r in &updated {
                copies
                    .entry(r.clone())
                    .or_default()
                    .extend(shown.get(r).cloned().unwrap_or_default());
            }
        }
        Ok(Round { views, copies })
    }

    /// Posts the card (under an optional line of text) and remembers the copy so that it is
    /// updated with the request.
    async fn post_card(
        &self,
        round: &Round,
        r#ref: &str,
        to: Destination<'_>,
        preface: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let card = render::card(&self.view(round, r#ref)?, self.engine.clock().now());
        let posted = self.platforms.get(to.platform())?.post_card(to, &card, preface).await?;
        let copy = CardCopy {
            platform: to.platform(),
            workspace: to.workspace().map(str::to_owned),
            channel: posted.channel,
            message_id: posted.message_id,
        };
        if let Some(shown) = &self.shown_copies {
            let mut shown = shown.lock().unwrap_or_else(|p| p.into_inner());
            shown.entry(r#ref.to_owned()).or_default().push(copy);
            return Ok(());
        }
        chat_messages::record(self.engine.pool(), r#ref, &copy)
            .await
            .map_err(transient)
    }

    async fn update_cards(&self, round: &Round, r#ref: &str) -> Result<(), DeliveryError> {
        let copies = round.copies.get(r#ref).map(Vec::as_slice).unwrap_or_default();
        if copies.is_empty() {
            return Ok(());
        }
        let card = render::card(&self.view(round, r#ref)?, self.engine.clock().now());
        // Every copy at once: one slow channel must not hold the others past the deadline.
        let updates = copies.iter().map(|copy| self.update_copy(copy, &card));
        futures_util::future::join_all(updates)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }

    async fn update_copy(&self, copy: &CardCopy, card: &Card) -> Result<(), DeliveryError> {
        let posted = Posted {
            channel: copy.channel.clone(),
            message_id: copy.message_id.clone(),
        };
        self.platforms.get(copy.platform)?.update_card(&posted, card).await
    }

    async fn confirm(&self, round: &Round, r#ref: &str, to: &ChatUser) -> Result<(), DeliveryError> {
        let view = self.view(round, r#ref)?;
        let Some(text) = render::confirmation(&view) else {
            return Ok(());
        };
        // The requester's own copy (no vote buttons), not updated later: it is the final state.
        let card = render::card_for(&view, self.engine.clock().now(), &view.requester.id);
        let platform = self.platforms.get(to.platform)?;
        platform
            .post_card(Destination::User(to), &card, Some(&text))
            .await
            .map(|_| ())
    }

    async fn remind(&self, round: &Round, r#ref: &str, to: &ChatUser) -> Result<(), DeliveryError> {
        let view = self.view(round, r#ref)?;
        if view.status.is_final() {
            return Ok(()); // decided since the reminder was queued
        }
        let text = format!(
            "Reminder: {} ({}) from {} is still waiting for your approval; still needed: {}.",
            view.r#ref,
            view.workflow_title,
            view.requester.name,
            view.needed_summary()
        );
        self.post_card(round, r#ref, Destination::User(to), Some(&text)).await
    }

    /// Posts an owner's digest.
    async fn digest(&self, digest: &serde_json::Value, to: Destination<'_>) -> Result<(), DeliveryError> {
        let d: crate::digest::compose::Digest = serde_json::from_value(digest.clone())
            .map_err(|e| DeliveryError::Permanent(format!("unreadable digest: {e}")))?;
        self.platforms.get(to.platform())?.post_digest(to, &d).await
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        self.platforms.get(place.platform)?.ephemeral(place, user, text).await
    }
}

/// What one round of deliveries read at its start. Cards are still rendered from state read
/// after their messages were claimed.
struct Round {
    views: HashMap<String, RequestView>,
    copies: HashMap<String, Vec<CardCopy>>,
}

impl Deliverer for ChatDeliverer {
    async fn deliver(&self, job: &Job) -> Result<(), DeliveryError> {
        let round = self.prefetch(std::slice::from_ref(job)).await.map_err(transient)?;
        self.deliver_in(&round, job).await
    }

    async fn deliver_all(&self, jobs: &[Job], done: &Completions) {
        match self.prefetch(jobs).await {
            Ok(round) => {
                let round = &round;
                let each = jobs.iter().enumerate().map(|(i, job)| async move {
                    done.done(i, self.deliver_in(round, job).await);
                });
                futures_util::future::join_all(each).await;
            }
            // Nothing can be rendered without the database: every job is retried later.
            Err(e) => {
                let why = format!("{e:#}");
                for i in 0..jobs.len() {
                    done.done(i, Err(DeliveryError::Transient(why.clone())));
                }
            }
        }
    }
}

impl ChatDeliverer {
    async fn deliver_in(&self, round: &Round, job: &Job) -> Result<(), DeliveryError> {
        match &job.intent {
            Intent::PostCard { r#ref, place } => self.post_card(round, r#ref, Destination::Channel(place), None).await,
            Intent::DmCard { r#ref, to } => self.post_card(round, r#ref, Destination::User(to), None).await,
            Intent::Remind { r#ref, to } => self.remind(round, r#ref, to).await,
            Intent::DigestToChannel { digest, place, .. } => self.digest(digest, Destination::Channel(place)).await,
            Intent::DigestToUser { digest, to, .. } => self.digest(digest, Destination::User(to)).await,
            Intent::UpdateCards { r#ref } => self.update_cards(round, r#ref).await,
            Intent::Confirm { r#ref, to } => self.confirm(round, r#ref, to).await,
            Intent::Ephemeral { place, user, text } => self.ephemeral(place, user, text).await,
            Intent::Webhook { r#ref, url, event } => match &self.webhooks {
                Some(w) => w.deliver(r#ref, url, event).await,
                None => Err(DeliveryError::Permanent(
                    "webhooks are not delivered by this process".into(),
                )),
            },
            Intent::Effect { r#ref, version } => match &self.effects {
                Some(runner) => runner.attempt(r#ref, *version, job.attempt).await,
                None => Err(DeliveryError::Permanent("effects are not run by this process".into())),
            },
            Intent::Checkpoint { seq, url } => match &self.webhooks {
                Some(w) => w.deliver_checkpoint(*seq, url).await,
                None => Err(DeliveryError::Permanent(
                    "webhooks are not delivered by this process".into(),
                )),
            },
            Intent::InteractionReply { platform, token, text } => {
                self.platforms.get(*platform)?.answer_later(token, text).await
            }
        }
    }
}
