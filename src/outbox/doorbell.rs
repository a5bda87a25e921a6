//! How a committed change tells the worker in its process which messages it just queued, so
//! the worker claims them by id instead of searching the queue. Searching walks the queue's
//! index from its oldest end, through every entry left by delivered messages until vacuum
//! clears them: at a thousand messages a second that grew to several milliseconds a claim.

use std::sync::Mutex;
use tokio::sync::Notify;

/// Ids of freshly committed messages, and a bell that wakes the worker.
#[derive(Debug, Default)]
pub struct Doorbell {
    state: Mutex<Rung>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Rung {
    ids: Vec<i64>,
    search: bool,
}

impl Doorbell {
    /// A bell nobody has rung.
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages `ids` were committed. With no ids, something may be waiting that only a search
    /// of the queue finds.
    pub fn ring(&self, ids: &[i64]) {
        {
            let mut rung = self.state.lock().expect("the doorbell lock is never poisoned");
            rung.ids.extend_from_slice(ids);
            rung.search |= ids.is_empty();
        }
        self.notify.notify_one();
    }

    /// The ids rung since the last take, and whether a search was asked for.
    pub(super) fn take(&self) -> (Vec<i64>, bool) {
        let mut rung = self.state.lock().expect("the doorbell lock is never poisoned");
        let ids = std::mem::take(&mut rung.ids);
        (ids, std::mem::take(&mut rung.search))
    }

    /// Waits for the next ring.
    pub(super) async fn rung(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_taken_once_and_a_bare_ring_asks_for_a_search() {
        let bell = Doorbell::new();
        bell.ring(&[3, 4]);
        bell.ring(&[7]);
        assert_eq!(bell.take(), (vec![3, 4, 7], false));
        assert_eq!(bell.take(), (vec![], false));
        bell.ring(&[]);
        assert_eq!(bell.take(), (vec![], true));
    }
}
