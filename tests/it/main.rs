//! The integration tests, in one binary: real Postgres, the real server, fake Slack and
//! Discord servers on loopback. One binary links the crate once, so the suite builds fast.

mod common;

mod api_auth;
mod api_flow;
mod audit_anchors;
mod audit_log;
mod audit_reconcile;
mod audit_spec;
mod checkpoint_once;
mod cli;
mod concurrency;
mod console_workflows;
mod demo;
mod digests;
mod discord_buttons;
mod discord_e2e;
mod discord_signed;
mod effects;
mod effects_flow;
mod effects_own;
mod fake_discord_selftest;
mod fake_slack_selftest;
mod hostile_input;
mod idempotency;
mod operations;
mod outbox_worker;
mod refusals;
mod settings;
mod slack_buttons;
mod slack_conformance;
mod slack_e2e;
mod slack_slow_answers;
mod sql_roles;
