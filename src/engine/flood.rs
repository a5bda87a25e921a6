//! Bounds what callers who prove no identity can make us write. The audit log is undeletable
//! and must be sealed and verified forever, so a refused unauthenticated attempt is recorded in
//! full only for the first time in a minute from the same identity and for the same action;
//! the rest of that minute is counted, and one summary entry with the count is written when the
//! minute is over. A flood therefore adds at most two entries a minute per identity and action
//! (and one identity stands for every caller without a valid token).

use crate::audit::Action;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// How many identities are tracked at once; beyond it every new one shares one window, so
/// memory stays bounded whatever a caller varies.
const MAX_TRACKED: usize = 10_000;
/// The identity a window is kept under once [`MAX_TRACKED`] are tracked.
const OVERFLOW: &str = "(many identities)";

/// A minute's attempts that were counted instead of written one by one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    /// The identity the attempts came through (or [`OVERFLOW`]).
    pub identity: String,
    /// What they attempted.
    pub action: Action,
    /// The first attempt that was counted.
    pub from: DateTime<Utc>,
    /// The last one.
    pub to: DateTime<Utc>,
    /// How many were counted.
    pub count: u64,
    /// What they were told, each with how often (at most [`MAX_REASONS`] distinct messages,
    /// each cut at 200 characters; the rest under "(other messages)").
    pub messages: BTreeMap<String, u64>,
}

/// How many distinct refusal messages a count keeps.
pub const MAX_REASONS: usize = 10;

#[derive(Debug)]
struct Window {
    started: DateTime<Utc>,
    counted: Option<Suppressed>,
}

/// The windows of recent unauthenticated refusals.
#[derive(Debug, Default)]
pub struct RefusalFlood {
    windows: Mutex<HashMap<(String, Action), Window>>,
}

impl RefusalFlood {
    /// Whether the refusal of `identity`'s attempt at `action` at `now` gets its own entry, and
    /// the summaries of windows that have closed (to be written now).
    pub fn admit(&self, identity: &str, action: Action, message: &str, now: DateTime<Utc>) -> (bool, Vec<Suppressed>) {
        let mut windows = self.windows.lock().expect("never poisoned");
        let mut closed = take_closed(&mut windows, now);
        let known = windows.contains_key(&(identity.to_string(), action));
        let identity = if known || windows.len() < MAX_TRACKED {
            identity
        } else {
            OVERFLOW
        };
        let key = (identity.to_string(), action);
        match windows.get_mut(&key) {
            None => {
                windows.insert(
                    key,
                    Window {
                        started: now,
                        counted: None,
                    },
                );
                (true, std::mem::take(&mut closed))
            }
            Some(w) => {
                let c = w.counted.get_or_insert(Suppressed {
                    identity: identity.to_string(),
                    action,
                    from: now,
                    to: now,
                    count: 0,
                    messages: BTreeMap::new(),
                });
                c.to = now;
                c.count += 1;
                let quoted = crate::policy::input::quoted_at(message, 200);
                let key = if c.messages.len() < MAX_REASONS || c.messages.contains_key(&quoted) {
                    quoted
                } else {
                    "(other messages)".to_string()
                };
                *c.messages.entry(key).or_default() += 1;
                (false, closed)
            }
        }
    }

    /// The summaries of windows that have closed by `now`, removed from tracking.
    pub fn flush(&self, now: DateTime<Utc>) -> Vec<Suppressed> {
        take_closed(&mut self.windows.lock().expect("never poisoned"), now)
    }
}

fn take_closed(windows: &mut HashMap<(String, Action), Window>, now: DateTime<Utc>) -> Vec<Suppressed> {
    let minute = TimeDelta::minutes(1);
    let mut out = Vec::new();
    windows.retain(|_, w| {
        let open = now - w.started < minute;
        if !open {
            out.extend(w.counted.take());
        }
        open
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_flood_writes_the_first_attempt_and_one_count_a_minute() {
        let f = RefusalFlood::default();
        assert_eq!(
            f.admit("api:unverified", Action::RequestViewed, "no token", at(0)),
            (true, vec![])
        );
        for s in 1..=600 {
            let (write, closed) = f.admit(
                "api:unverified",
                Action::RequestViewed,
                &format!("reason {}", s % 20),
                at(s / 20),
            );
            assert!(!write);
            assert!(closed.is_empty());
        }
        assert!(f.flush(at(59)).is_empty(), "the minute is not over");
        let summary = f.flush(at(60));
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0].count, 600);
        assert_eq!((summary[0].from, summary[0].to), (at(0), at(30)));
        assert_eq!(summary[0].messages.len(), MAX_REASONS + 1, "ten reasons and the rest");
        assert_eq!(summary[0].messages.values().sum::<u64>(), 600);
        assert!(f.flush(at(61)).is_empty(), "a window is summed up once");
        assert!(
            f.admit("api:unverified", Action::RequestViewed, "no token", at(61)).0,
            "a new minute"
        );
    }

    #[test]
    fn identities_and_actions_have_their_own_windows_and_memory_stays_bounded() {
        let f = RefusalFlood::default();
        assert!(f.admit("a", Action::RequestViewed, "m", at(0)).0);
        assert!(f.admit("b", Action::RequestViewed, "m", at(0)).0);
        assert!(f.admit("a", Action::RequestOpened, "m", at(0)).0);
        for i in 0..MAX_TRACKED + 50 {
            f.admit(&format!("caller-{i}"), Action::RequestViewed, "m", at(1));
        }
        assert!(f.windows.lock().unwrap().len() <= MAX_TRACKED + 1);
    }
}
