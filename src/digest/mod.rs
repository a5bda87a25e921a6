//! Owners' health digests: schedules, exactly-once slots, composition and rendering.
pub mod compose;
pub mod render;
pub mod schedule;
pub mod scheduler;
