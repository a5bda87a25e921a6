//! The delivery worker: claims due messages (per request, in order), delivers them, and retries
//! with backoff, honouring rate limits, until delivered or dead-lettered (audited).

use super::claim;
use super::holding::Holding;
use super::{Doorbell, Intent, Queued};
use crate::clock::Clock;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod settle;

/// Why a delivery failed, as far as retrying is concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The platform asked us to wait (HTTP 429 with Retry-After).
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long the platform asked us to wait.
        retry_after: Duration,
    },
    /// Worth retrying: a 5xx, a timeout, a connection refused.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Will never succeed (a channel that does not exist): dead-letter at once.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// One claimed message.
#[derive(Clone, Debug)]
pub struct Job {
    /// Outbox id.
    pub id: i64,
    /// What to send.
    pub intent: Intent,
    /// Attempts so far, including this one.
    pub attempt: i32,
    /// Later card updates of the same request, already committed when this job was claimed: a
    /// card is rendered from the request's current state, so delivering this one brings the
    /// card up to date for them too, and they are settled with it.
    pub absorbed: Vec<i64>,
}

/// Where a deliverer reports each job's result the moment it has it, so that the worker records
/// a delivery while slower calls of the same round are still out: a slow answer must never
/// leave a finished delivery unrecorded long enough to be claimed and sent again.
#[derive(Clone, Debug)]
pub struct Completions {
    tx: tokio::sync::mpsc::UnboundedSender<Completion>,
    /// When the round's calls began: a result's latency is taken when it is reported, not
    /// when the worker gets round to recording it.
    started: Instant,
}

/// A job's index in its round, its result, and how long after the round's start it came.
type Completion = (usize, Result<(), DeliveryError>, Duration);

impl Completions {
    /// Reports the result of `jobs[index]`.
    pub fn done(&self, index: usize, result: Result<(), DeliveryError>) {
        // The worker stops listening only once the round's deadline has passed; a result that
        // arrives later is dropped and the message is retried like any unanswered one.
        let _ = self.tx.send((index, result, self.started.elapsed()));
    }
}

/// Delivers intents to the platforms.
#[allow(async_fn_in_trait)]
pub trait Deliverer: Send + Sync + 'static {
    /// Delivers one job; called at most once at a time per request.
    fn deliver(&self, job: &Job) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send;

    /// Delivers a round of jobs (of different requests) concurrently, reporting each job's
    /// result to `done` as soon as it is known. A deliverer may override it to read what the
    /// whole round needs at once.
    fn deliver_all(&self, jobs: &[Job], done: &Completions) -> impl std::future::Future<Output = ()> + Send {
        let each = jobs.iter().enumerate().map(move |(i, job)| async move {
            done.done(i, self.deliver(job).await);
        });
        async move {
            futures_util::future::join_all(each).await;
        }
    }
}

/// Tuning of the worker.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// Delay before the first retry; doubled for each further one.
    pub backoff_base: Duration,
    /// Longest delay between retries.
    pub backoff_max: Duration,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: i32,
    /// How long a claimed message is reserved for one worker. Always longer than `deadline`
    /// (the worker lengthens it when it is not), so that no message is claimed again while the
    /// call that delivers it may still be out.
    pub lease: Duration,
    /// How long a round's platform calls may take in all; a job still out then is abandoned
    /// (its call cancelled) and retried like a failed one. Each platform client also times out
    /// its own calls well within it.
    pub deadline: Duration,
    /// How often to look for due messages when not woken.
    pub poll: Duration,
    /// Messages claimed per round.
    pub batch: i64,
    /// Rounds in flight at once in one process.
    pub parallel: usize,
    /// How often the queue is searched for messages nobody rang for (queued by another
    /// replica, or left behind by a crash); messages rung for are claimed by id at once.
    pub search_every: Duration,
    /// How long a round waits after a ring for more messages to claim with it.
    pub gather: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_attempts: 10,
            lease: Duration::from_secs(60),
            deadline: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            batch: 64,
            parallel: 8,
            search_every: Duration::from_secs(1),
            gather: Duration::from_millis(5),
        }
    }
}

/// The worker: any number may run against one database (claims use SKIP LOCKED and leases).
pub struct Worker<D: Deliverer> {
    pool: PgPool,
    deliverer: Arc<D>,
    config: OutboxConfig,
    clock: Arc<dyn Clock>,
    bell: Arc<Doorbell>,
    last_search: Mutex<Option<Instant>>,
    holding: Holding,
}

impl<D: Deliverer> Worker<D> {
    /// A worker over `pool`.
    pub fn new(pool: PgPool, deliverer: Arc<D>, mut config: OutboxConfig, clock: Arc<dyn Clock>) -> Self {
        // A lease shorter than the deadline would let a second worker claim a message whose
        // first delivery is still under way: the cause of doubled posts.
        let floor = config.deadline * 2;
        if config.lease < floor {
            tracing::warn!(
                lease_secs = config.lease.as_secs_f64(),
                deadline_secs = config.deadline.as_secs_f64(),
                "the outbox lease must outlast the delivery deadline; using twice the deadline"
            );
            config.lease = floor;
        }
        Worker {
            pool,
            deliverer,
            config,
            clock,
            bell: Arc::new(Doorbell::new()),
            last_search: Mutex::new(None),
            holding: Holding::default(),
        }
    }

    /// The bell a committing process rings with the ids of the messages it queued.
    pub fn waker(&self) -> Arc<Doorbell> {
        self.bell.clone()
    }

    /// Runs until `stop` is cancelled, finishing the rounds in hand first. Several rounds run at
    /// once (`parallel`), so one round's commits and platform calls overlap another's.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        let me = Arc::new(self);
        let loops: Vec<_> = (0..me.config.parallel.max(1))
            .map(|_| tokio::spawn(me.clone().rounds(stop.clone())))
            .collect();
        for l in loops {
            let _ = l.await;
        }
    }

    async fn rounds(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            if stop.is_cancelled() {
                return;
            }
            let worked = match self.next_round().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "outbox round failed; will retry");
                    false
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = self.bell.rung() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    /// Claims and delivers the oldest due messages, searching the whole queue; returns how many
    /// it handled.
    pub async fn round(&self) -> anyhow::Result<usize> {
        self.search(Duration::ZERO).await
    }

    /// A search round over messages queued at least `settled` ago.
    async fn search(&self, settled: Duration) -> anyhow::Result<usize> {
        let claimed = claim::oldest(&self.pool, self.config.batch, self.config.lease, settled).await?;
        let flights: Vec<Queued> = claimed.jobs.iter().map(|j| Queued::of(j.id, &j.intent)).collect();
        self.holding.started(&flights);
        self.fly(&flights, self.deliver(claimed).await)
    }

    /// The messages rung for, claimed by id; or a search of the queue when one was asked for
    /// or is due.
    async fn next_round(&self) -> anyhow::Result<usize> {
        if let Some(urgent) = self.search_due() {
            // A periodic search leaves alone the messages rung for in the last moment: they are
            // on their way already. At start, on request and through a backlog it takes all.
            let settled = if urgent {
                Duration::ZERO
            } else {
                self.config.gather * 20
            };
            let n = self.search(settled).await?;
            if n >= self.batch() {
                // A backlog nobody rang for (queued before this process started, or by
                // another replica): keep searching until it is gone.
                self.search_next();
            }
            // Messages rung for meanwhile are claimed by the next round, without waiting.
            return Ok(n + usize::from(self.bell.pending()));
        }
        // Under load a ring is followed by others at once: one round claims them together.
        tokio::time::sleep(self.config.gather).await;
        let (mut rung, asked) = self.bell.take();
        if asked {
            self.search_next();
        }
        if rung.len() > self.batch() {
            self.bell.ring(&rung.split_off(self.batch()));
        }
        let admitted = self.holding.admit(rung);
        if admitted.is_empty() {
            return Ok(0);
        }
        // A message it cannot claim was delivered already (folded into a card update), or waits
        // behind a message another process has in flight: the next search finds it.
        let ids: Vec<i64> = admitted.iter().map(|q| q.id).collect();
        let result = match claim::by_id(&self.pool, &ids, self.config.lease).await {
            Ok(claimed) => self.deliver(claimed).await,
            Err(e) => Err(e),
        };
        self.fly(&admitted, result)
    }

    /// Messages claimed per round.
    fn batch(&self) -> usize {
        usize::try_from(self.config.batch).unwrap_or(64).max(1)
    }

    /// Makes the next round search the whole queue.
    fn search_next(&self) {
        *self.last_search.lock().expect("never poisoned") = None;
    }

    /// Ends the flights of a round: rings for the messages held behind them.
    fn fly(&self, flights: &[Queued], result: anyhow::Result<(usize, Vec<i64>)>) -> anyhow::Result<usize> {
        let delivered = result.as_ref().map(|(_, d)| d.as_slice()).unwrap_or_default();
        let next = self.holding.settled(flights, delivered);
        if !next.is_empty() {
            self.bell.ring(&next);
        }
        Ok(result?.0)
    }

    /// Whether this round searches the queue: `Some(true)` when asked to (or at start, or
    /// through a backlog), `Some(false)` once every `search_every`.
    fn search_due(&self) -> Option<bool> {
        let mut last = self.last_search.lock().expect("never poisoned");
        let due = match *last {
            None => Some(true),
            Some(t) if t.elapsed() >= self.config.search_every => Some(false),
            Some(_) => None,
        };
        if due.is_some() {
            *last = Some(Instant::now());
        }
        due
    }
}
