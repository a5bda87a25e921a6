//! The effect of an approved version: queued in the deciding transaction (its row and its
//! outbox message commit with the decision, or neither does), run by `effect::runner`.

use super::load::Loaded;
use super::work::Work;
use super::Engine;
use crate::outbox::Intent;
use crate::store::request_effects;
use chrono::{DateTime, Utc};

impl Engine {
    /// Queues the effect frozen with the approved version, if it has one.
    pub(super) async fn queue_effect(&self, work: &mut Work<'_>, l: &Loaded, now: DateTime<Utc>) -> anyhow::Result<()> {
        let (id, version) = (l.row.id, l.row.version);
        let Some(effect) = request_effects::version_effect(work, id, version).await? else {
            return Ok(());
        };
        request_effects::queue(work, id, version, &effect, now).await?;
        work.send(Intent::Effect {
            r#ref: l.row.r#ref.to_string(),
            version,
        });
        Ok(())
    }
}
