//! Reminders: a pending request past its workflow's `remind_after` is sent again to the approvers
//! who have not voted on its current version, once per interval.

use super::Engine;
use crate::outbox::Intent;
use chrono::TimeDelta;

impl Engine {
    /// Sends every reminder that is due; returns how many messages were queued.
    pub async fn send_reminders(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut queued = 0;
        for wf in self.policy.workflows.values() {
            let Some(every) = wf.lifecycle.remind_after.and_then(|d| TimeDelta::from_std(d).ok()) else {
                continue;
            };
            let due = crate::store::requests::due_for_reminder(&self.pool, &wf.id, now - every, 200).await?;
            for r in due {
                queued += self.remind_one(&r, now - every).await?;
            }
        }
        if queued > 0 {
            // Many small transactions: one search of the queue finds them all.
            self.wake_outbox(&[]);
        }
        Ok(queued)
    }

    /// Reminds the approvers of one request, unless another replica just did.
    async fn remind_one(&self, r#ref: &str, due_before: chrono::DateTime<chrono::Utc>) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let still_due = crate::store::requests::lock_if_due_for_reminder(&mut tx, r#ref, due_before).await?;
        let Some(id) = still_due else { return Ok(0) };
        let Some(l) = self.load_rest_by_ref(&mut tx, r#ref).await? else {
            return Ok(0);
        };
        let Some(place) = l.row.origin.as_ref().map(|o| o.0.clone()) else {
            return Ok(0);
        };
        // Only people who could still fill an open slot: reminding someone whose group is met
        // would only earn them a group_full refusal.
        let open_roles: Vec<_> = l
            .domain
            .progress()
            .groups
            .into_iter()
            .filter(|g| !g.is_met())
            .map(|g| g.role)
            .collect();
        let mut queued = 0;
        for person in self.approvers_of(&l) {
            if l.domain.voters.contains(&person.id) || !open_roles.iter().any(|r| person.roles.contains(r)) {
                continue;
            }
            if let Some(to) = person.reach(&place) {
                let remind = Intent::Remind {
                    r#ref: r#ref.to_string(),
                    to,
                };
                crate::store::effects::enqueue(&mut tx, remind.row()?).await?;
                queued += 1;
            }
        }
        crate::store::requests::mark_reminded(&mut tx, id, self.clock.now()).await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn load_rest_by_ref(
        &self,
        conn: &mut sqlx::PgConnection,
        r#ref: &str,
    ) -> anyhow::Result<Option<super::load::Loaded>> {
        match crate::store::requests::find(&mut *conn, r#ref).await? {
            Some(row) => Ok(Some(self.load_rest(conn, row).await?)),
            None => Ok(None),
        }
    }
}
