//! Which digest slot is due: the latest cron time not yet sent, read in the owner's timezone.
//! After downtime only the latest missed slot is due (one catch-up digest, never a flood).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use cron::Schedule;

/// The most slots we are willing to walk through (a per-second cron over a long outage).
const MAX_STEPS: usize = 1_000_000;

/// The latest slot in `(after, now]`, if any. When clocks go back, a wall-clock time happens
/// twice; its second occurrence is not a new slot (a daily digest stays daily). When clocks go
/// forward past a time, that day has no slot and the next digest covers the gap.
pub fn latest_between(schedule: &Schedule, tz: Tz, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut latest = None;
    let mut previous_wall = after.with_timezone(&tz).naive_local();
    for slot in schedule.after(&after.with_timezone(&tz)).take(MAX_STEPS) {
        let wall = slot.naive_local();
        let slot = slot.with_timezone(&Utc);
        if slot > now {
            break;
        }
        if wall == previous_wall {
            continue;
        }
        previous_wall = wall;
        latest = Some(slot);
    }
    latest
}

/// The slot due at `now`. With a previous slot, the latest one after it; without one (a new
/// schedule), only a slot that passed within `grace`, so that a new schedule does not fire for
/// a time long gone.
pub fn due_slot(
    schedule: &Schedule,
    tz: Tz,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Option<DateTime<Utc>> {
    let after = last.unwrap_or(now - grace);
    latest_between(schedule, tz, after, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::str::FromStr;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn weekdays_at_nine() -> Schedule {
        Schedule::from_str("0 0 9 * * Mon-Fri").unwrap()
    }

    #[test]
    fn a_slot_is_due_once_its_time_has_come() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let last = Some(utc(2026, 1, 5, 8, 0)); // Monday 09:00 Berlin (winter, UTC+1)
        assert_eq!(
            due_slot(
                &weekdays_at_nine(),
                berlin,
                last,
                utc(2026, 1, 6, 7, 59),
                TimeDelta::minutes(10)
            ),
            None
        );
        assert_eq!(
            due_slot(
                &weekdays_at_nine(),
                berlin,
                last,
                utc(2026, 1, 6, 8, 0),
                TimeDelta::minutes(10)
            ),
            Some(utc(2026, 1, 6, 8, 0))
        );
    }

    #[test]
    fn after_downtime_only_the_latest_missed_slot_is_due() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let last = Some(utc(2026, 1, 5, 8, 0));
        // Down from Monday to the next Monday at noon: one digest, for that morning's slot.
        let now = utc(2026, 1, 12, 11, 0);
        assert_eq!(
            due_slot(&weekdays_at_nine(), berlin, last, now, TimeDelta::minutes(10)),
            Some(utc(2026, 1, 12, 8, 0))
        );
    }

    #[test]
    fn a_new_schedule_does_not_fire_for_a_time_long_gone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            due_slot(
                &weekdays_at_nine(),
                berlin,
                None,
                utc(2026, 1, 5, 12, 0),
                TimeDelta::minutes(10)
            ),
            None
        );
        assert_eq!(
            due_slot(
                &weekdays_at_nine(),
                berlin,
                None,
                utc(2026, 1, 5, 8, 5),
                TimeDelta::minutes(10)
            ),
            Some(utc(2026, 1, 5, 8, 0))
        );
    }

    #[test]
    fn nine_in_berlin_stays_nine_across_daylight_saving_changes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Summer time starts on Sunday 2026-03-29: Friday's digest is at 08:00 UTC, Monday's at 07:00 UTC.
        let friday = utc(2026, 3, 27, 8, 0);
        let monday = due_slot(
            &weekdays_at_nine(),
            berlin,
            Some(friday),
            utc(2026, 3, 30, 7, 30),
            TimeDelta::minutes(10),
        );
        assert_eq!(monday, Some(utc(2026, 3, 30, 7, 0)));
        // It ends on Sunday 2026-10-25: back to 08:00 UTC on Monday.
        let friday = utc(2026, 10, 23, 7, 0);
        let monday = due_slot(
            &weekdays_at_nine(),
            berlin,
            Some(friday),
            utc(2026, 10, 26, 8, 30),
            TimeDelta::minutes(10),
        );
        assert_eq!(monday, Some(utc(2026, 10, 26, 8, 0)));
    }

    #[test]
    fn a_wall_clock_time_that_happens_twice_is_one_slot_and_one_that_never_happens_is_none() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let nightly = Schedule::from_str("0 30 2 * * *").unwrap();
        let grace = TimeDelta::minutes(10);
        // 2026-10-25: 02:30 happens at 00:30 UTC (summer) and again at 01:30 UTC (winter).
        let first = utc(2026, 10, 25, 0, 30);
        assert_eq!(
            due_slot(
                &nightly,
                berlin,
                Some(utc(2026, 10, 24, 0, 30)),
                utc(2026, 10, 25, 0, 31),
                grace
            ),
            Some(first)
        );
        assert_eq!(
            due_slot(&nightly, berlin, Some(first), utc(2026, 10, 25, 1, 31), grace),
            None,
            "no second digest that night"
        );
        assert_eq!(
            due_slot(&nightly, berlin, Some(first), utc(2026, 10, 26, 1, 31), grace),
            Some(utc(2026, 10, 26, 1, 30))
        );
        // 2026-03-29: 02:30 never happens; the next digest is Monday's, covering the gap.
        let saturday = utc(2026, 3, 28, 1, 30);
        assert_eq!(
            due_slot(&nightly, berlin, Some(saturday), utc(2026, 3, 29, 12, 0), grace),
            None
        );
        assert_eq!(
            due_slot(&nightly, berlin, Some(saturday), utc(2026, 3, 30, 0, 31), grace),
            Some(utc(2026, 3, 30, 0, 30))
        );
    }
}
