//! Which requests have a message in flight in this process, and the messages rung for behind
//! them. Messages of one request leave in order: the one behind waits here, without asking the
//! database, until the one ahead is settled.

use super::Queued;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Requests in flight and the messages held behind them.
#[derive(Debug, Default)]
pub(super) struct Holding {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    in_flight: HashSet<String>,
    behind: HashMap<String, Vec<Queued>>,
}

impl Holding {
    /// Of messages rung for (oldest first), those to claim now: the first of each request that
    /// has nothing in flight, which puts its request in flight. The rest are held.
    pub fn admit(&self, rung: Vec<Queued>) -> Vec<Queued> {
        let mut s = self.state.lock().expect("never poisoned");
        let mut now = Vec::with_capacity(rung.len());
        for q in rung {
            match &q.r#ref {
                Some(r) if s.in_flight.contains(r) => s.behind.entry(r.clone()).or_default().push(q),
                Some(r) => {
                    s.in_flight.insert(r.clone());
                    now.push(q);
                }
                None => now.push(q),
            }
        }
        now
    }

    /// Puts the requests of messages claimed by a search in flight.
    pub fn started(&self, claimed: &[Queued]) {
        let mut s = self.state.lock().expect("never poisoned");
        s.in_flight.extend(claimed.iter().filter_map(|q| q.r#ref.clone()));
    }

    /// The requests of `admitted` are no longer in flight; returns the messages that were held
    /// behind them, except those already `delivered` (with a card update they were folded into).
    pub fn settled(&self, admitted: &[Queued], delivered: &[i64]) -> Vec<Queued> {
        let mut s = self.state.lock().expect("never poisoned");
        let mut next = Vec::new();
        for r in admitted.iter().filter_map(|q| q.r#ref.as_ref()) {
            s.in_flight.remove(r);
            next.extend(s.behind.remove(r).unwrap_or_default());
        }
        next.retain(|q| !delivered.contains(&q.id));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: i64, r: &str) -> Queued {
        Queued {
            id,
            r#ref: Some(r.to_string()),
        }
    }

    #[test]
    fn a_message_waits_behind_its_requests_message_in_flight_and_is_released_when_it_settles() {
        let h = Holding::default();
        let first = h.admit(vec![q(1, "INV-1"), q(2, "INV-1"), q(3, "INV-2")]);
        assert_eq!(first, vec![q(1, "INV-1"), q(3, "INV-2")]);
        assert_eq!(h.admit(vec![q(4, "INV-2")]), vec![], "INV-2 is in flight");
        assert_eq!(h.settled(&first, &[1, 3]), vec![q(2, "INV-1"), q(4, "INV-2")]);
        assert_eq!(h.admit(vec![q(2, "INV-1")]), vec![q(2, "INV-1")]);
    }

    #[test]
    fn a_held_message_already_delivered_with_the_one_ahead_is_dropped() {
        let h = Holding::default();
        let first = h.admit(vec![q(1, "INV-1"), q(2, "INV-1")]);
        assert_eq!(h.settled(&first, &[1, 2]), vec![]);
    }
}
