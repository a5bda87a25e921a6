//! Reminders: a pending request past its workflow's `remind_after` is sent again to the approvers
//! who have not voted on its current version, once per interval.

use super::Engine;
use crate::outbox::{self, Intent};
use anyhow::Context as _;
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
            let due: Vec<String> = sqlx::query_scalar(
                "SELECT ref FROM requests WHERE workflow = $1 AND status = 'pending' AND origin IS NOT NULL \
                 AND coalesce(last_reminded_at, created_at) <= $2 ORDER BY id LIMIT 200",
            )
            .bind(&wf.id)
            .bind(now - every)
            .fetch_all(&self.pool)
            .await
            .context("finding requests due for a reminder")?;
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
        let still_due: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM requests WHERE ref = $1 AND status = 'pending' \
             AND coalesce(last_reminded_at, created_at) <= $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(r#ref)
        .bind(due_before)
        .fetch_optional(&mut *tx)
        .await?;
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
                outbox::enqueue(
                    &mut tx,
                    &Intent::Remind {
                        r#ref: r#ref.to_string(),
                        to,
                    },
                )
                .await?;
                queued += 1;
            }
        }
        sqlx::query("UPDATE requests SET last_reminded_at = $2 WHERE id = $1")
            .bind(id)
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?;
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
