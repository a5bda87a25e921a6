//! How a committed change tells the worker in its process which messages it just queued, so
//! the worker claims them by id instead of searching the queue. Searching walks the queue's
//! index from its oldest end, through every entry left by delivered messages until vacuum
//! clears them: at a thousand messages a second that grew to several milliseconds a claim.

use std::sync::Mutex;
use tokio::sync::Notify;

/// Freshly committed messages, and a bell that wakes the worker.
#[derive(Debug, Default)]
pub struct Doorbell {
    state: Mutex<Rung>,
    notify: Notify,
}

/// One committed message: its id, and the request it concerns (messages of one request are
/// delivered in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Outbox id.
    pub id: i64,
    /// The request's ref, if the message concerns one.
    pub r#ref: Option<String>,
}

impl Queued {
    /// Message `id`, which says `intent`.
    pub fn of(id: i64, intent: &super::Intent) -> Self {
        Queued {
            id,
            r#ref: intent.r#ref().map(str::to_owned),
        }
    }
}

#[derive(Debug, Default)]
struct Rung {
    queued: Vec<Queued>,
    search: bool,
}

impl Doorbell {
    /// A bell nobody has rung.
    pub fn new() -> Self {
        Self::default()
    }

    /// These messages were committed. With none, something may be waiting that only a search
    /// of the queue finds.
    pub fn ring(&self, queued: &[Queued]) {
        {
            let mut rung = self.state.lock().expect("the doorbell lock is never poisoned");
            rung.queued.extend_from_slice(queued);
            rung.search |= queued.is_empty();
        }
        self.notify.notify_one();
    }

    /// The messages rung for since the last take (oldest first, each once), and whether a
    /// search was asked for.
    pub fn take(&self) -> (Vec<Queued>, bool) {
        let mut rung = self.state.lock().expect("the doorbell lock is never poisoned");
        let mut queued = std::mem::take(&mut rung.queued);
        queued.sort_unstable_by_key(|q| q.id);
        queued.dedup_by_key(|q| q.id);
        (queued, std::mem::take(&mut rung.search))
    }

    /// Whether messages were rung for and not taken yet.
    pub(super) fn pending(&self) -> bool {
        !self
            .state
            .lock()
            .expect("the doorbell lock is never poisoned")
            .queued
            .is_empty()
    }

    /// Waits for the next ring.
    pub(super) async fn rung(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: i64) -> Queued {
        Queued { id, r#ref: None }
    }

    #[test]
    fn messages_are_taken_once_in_id_order_and_a_bare_ring_asks_for_a_search() {
        let bell = Doorbell::new();
        bell.ring(&[q(7), q(3)]);
        bell.ring(&[q(4), q(7)]);
        assert_eq!(bell.take(), (vec![q(3), q(4), q(7)], false));
        assert_eq!(bell.take(), (vec![], false));
        bell.ring(&[]);
        assert_eq!(bell.take(), (vec![], true));
    }
}
