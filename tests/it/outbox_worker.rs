//! The delivery worker against a real queue: messages rung for are claimed by id and keep their
//! order per request; a backlog nobody rang for is found by searching, and drained at once.

use countersign::chat::address::{ChatUser, Platform};
use countersign::clock::{Clock, SystemClock};
use countersign::outbox::{self, Deliverer, DeliveryError, Intent, Job, OutboxConfig, Queued, Worker};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Records what it delivers; card updates of `slow_ref` take a while.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<i64>>,
    slow_ref: Option<String>,
}

impl Deliverer for Recorder {
    async fn deliver(&self, job: &Job) -> Result<(), DeliveryError> {
        if let Intent::UpdateCards { r#ref } = &job.intent {
            if Some(r#ref) == self.slow_ref.as_ref() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        self.delivered.lock().unwrap().push(job.id);
        Ok(())
    }
}

fn confirm(r#ref: &str) -> Intent {
    Intent::Confirm {
        r#ref: r#ref.to_string(),
        to: ChatUser {
            platform: Platform::Slack,
            workspace: Some("T0001".into()),
            user: "U0ALICE".into(),
        },
    }
}

async fn queue(pool: &PgPool, intent: &Intent) -> Queued {
    let mut conn = pool.acquire().await.unwrap();
    Queued {
        id: countersign::store::effects::enqueue(&mut conn, intent.row().unwrap())
            .await
            .unwrap(),
        r#ref: intent.r#ref().map(str::to_owned),
    }
}

/// Searches only when asked or once a minute: anything delivered sooner was rung for, or
/// found by a search that kept going.
fn rarely_searching() -> OutboxConfig {
    OutboxConfig {
        poll: Duration::from_millis(20),
        search_every: Duration::from_secs(60),
        ..OutboxConfig::default()
    }
}

async fn until_delivered(recorder: &Recorder, n: usize) -> Vec<i64> {
    let started = Instant::now();
    loop {
        let delivered = recorder.delivered.lock().unwrap().clone();
        if delivered.len() >= n {
            return delivered;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "only {} of {n} delivered",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn start(pool: &PgPool, recorder: Arc<Recorder>) -> (Arc<outbox::Doorbell>, CancellationToken) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = Worker::new(pool.clone(), recorder, rarely_searching(), clock);
    let bell = worker.waker();
    let stop = CancellationToken::new();
    tokio::spawn(worker.run(stop.clone()));
    (bell, stop)
}

#[sqlx::test]
async fn a_backlog_queued_before_the_worker_started_is_drained_without_waiting_for_the_next_search(pool: PgPool) {
    for n in 0..300 {
        queue(&pool, &confirm(&format!("INV-{n}"))).await;
    }
    let recorder = Arc::new(Recorder::default());
    let (_bell, _stop) = start(&pool, recorder.clone());
    let delivered = until_delivered(&recorder, 300).await;
    assert_eq!(delivered.len(), 300, "each exactly once");
}

#[sqlx::test]
async fn a_message_rung_for_behind_one_in_flight_follows_it_without_a_search(pool: PgPool) {
    let recorder = Arc::new(Recorder {
        slow_ref: Some("INV-1".into()),
        ..Recorder::default()
    });
    let (bell, _stop) = start(&pool, recorder.clone());
    tokio::time::sleep(Duration::from_millis(100)).await; // the first search has found nothing
    let update = queue(&pool, &Intent::UpdateCards { r#ref: "INV-1".into() }).await;
    bell.ring(std::slice::from_ref(&update));
    tokio::time::sleep(Duration::from_millis(100)).await; // the update is in flight
    let confirmation = queue(&pool, &confirm("INV-1")).await;
    let other = queue(&pool, &confirm("INV-2")).await;
    bell.ring(&[confirmation.clone(), other.clone()]);
    let delivered = until_delivered(&recorder, 3).await;
    assert_eq!(
        delivered,
        vec![other.id, update.id, confirmation.id],
        "INV-2 does not wait for INV-1; INV-1's confirmation waits for its card update"
    );
}
