//! What the decisions bench checks after its run: the database against what the clients saw
//! acknowledged, and each acknowledged vote against the card update the fake Slack received.

use crate::common::ms;
use crate::timed_slack::Update;
use crate::voters::Vote;
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::time::Instant;

/// What the database says after the run, checked against what the clients saw acknowledged.
#[derive(Default)]
pub struct Check {
    pub over_voted: u64,
    pub doubled: u64,
    pub not_approved_once: u64,
    pub decided_early: u64,
    pub mismatched: u64,
    pub refused: u64,
    pub approvals_audited: i64,
    pub decisions: i64,
}

impl Check {
    pub fn violations(&self) -> u64 {
        let audit_gap = (self.approvals_audited != self.decisions) as u64;
        self.over_voted + self.doubled + self.not_approved_once + self.decided_early + self.mismatched + audit_gap
    }
}

pub async fn check(pool: &PgPool, acked: &HashMap<u32, u32>) -> anyhow::Result<Check> {
    let mut c = Check::default();
    let rows = sqlx::query(
        "SELECT r.number, r.status, \
           (SELECT count(*) FROM votes v WHERE v.request_id = r.id) AS votes, \
           (SELECT count(*) FROM decisions d WHERE d.request_id = r.id) AS decided, \
           (SELECT count(*) FROM decisions d WHERE d.request_id = r.id AND d.outcome = 'approved') AS approved \
         FROM requests r",
    )
    .fetch_all(pool)
    .await?;
    for r in rows {
        let number: i64 = r.get("number");
        let (votes, decided, approved): (i64, i64, i64) = (r.get("votes"), r.get("decided"), r.get("approved"));
        let status: String = r.get("status");
        c.over_voted += (votes > 2) as u64;
        c.doubled += (decided > 1) as u64;
        c.not_approved_once += (votes == 2 && (approved != 1 || decided != 1 || status != "approved")) as u64;
        c.decided_early += (votes < 2 && (decided != 0 || status != "pending")) as u64;
        c.mismatched += (votes != *acked.get(&(number as u32)).unwrap_or(&0) as i64) as u64;
    }
    c.refused = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log WHERE outcome = 'refused'")
        .fetch_one(pool)
        .await? as u64;
    c.approvals_audited = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'request.approved'")
        .fetch_one(pool)
        .await?;
    c.decisions = sqlx::query_scalar("SELECT count(*) FROM decisions")
        .fetch_one(pool)
        .await?;
    Ok(c)
}

/// Card-update latency: the k-th acknowledged vote on a request is delivered by the first card
/// update that shows at least k approvals (one update may show several, since cards are rendered
/// from the request's state when they are sent). Returns the sorted latencies of the votes sent
/// from `from` on, and how many acknowledged votes no update ever showed.
pub fn delivery(votes: &[Vote], updates: Vec<Update>, from: Instant) -> (Vec<f64>, u64) {
    let mut by_ref: HashMap<u32, Vec<Update>> = HashMap::new();
    for u in updates {
        by_ref.entry(u.number).or_default().push(u);
    }
    let mut acks: HashMap<u32, Vec<(Instant, bool)>> = HashMap::new();
    for v in votes.iter().filter(|v| v.ok) {
        acks.entry(v.number).or_default().push((v.acked, v.sent >= from));
    }
    let (mut lat, mut missing) = (Vec::with_capacity(votes.len()), 0);
    for (n, mut a) in acks {
        a.sort();
        let mut u = by_ref.remove(&n).unwrap_or_default();
        u.sort_by_key(|u| u.at);
        for (k, (ack, counted)) in a.iter().enumerate() {
            let shown = u.iter().find(|u| u.approvals > k as u32);
            match shown {
                Some(up) if *counted => lat.push(ms(up.at.saturating_duration_since(*ack))),
                Some(_) => {}
                None => missing += 1,
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    (lat, missing)
}
