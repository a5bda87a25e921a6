//! Countersign: a chat-ops bot for approvals and records. Requests are opened in chat, decided
//! by exact quorum, executed in Postgres and written to a tamper-evident audit log.

pub mod api;
pub mod approval;
pub mod audit;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod digest;
pub mod effect;
pub mod engine;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod outbox;
pub mod policy;
pub mod server;
pub mod store;
