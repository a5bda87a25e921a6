//! `cargo bench --bench audit`: an audit log of BENCH_AUDIT_ENTRIES entries (default 1,000,000)
//! written straight into a fresh `countersign_bench_audit` database with one INSERT ... SELECT
//! per 100,000, then sealed, verified and exported (JSON lines and CSV, to a counting sink)
//! through the library, each timed. Prints a table and, as its last line, one JSON object.

mod common;

use common::{env_u64, proc_status_mb, rate, round, table};
use countersign::audit::{self, ExportFilter, ExportFormat};
use serde_json::json;
use sqlx::PgPool;
use std::io::Write;
use std::time::Instant;

/// Entries per INSERT (each its own transaction, so the log spans many transaction ids).
const CHUNK: i64 = 100_000;

/// One request's life in four entries, with the field contents the engine writes: opened by
/// the requester, approved by a finance approver then the director, decided. One entry in a
/// hundred is a refused click instead, carrying the message the person was shown.
const FILL: &str = r#"
INSERT INTO audit_log (at, actor, identity, action, ref, version, rule, policy_hash, outcome, reason, details, correlation_id)
SELECT timestamptz '2026-01-05 08:00:00+00' + g * interval '250 milliseconds',
       p.person,
       'slack:T0001/U0' || upper(p.person),
       CASE WHEN g % 100 = 1 THEN 'vote.approve'
            ELSE (ARRAY['request.opened', 'vote.approve', 'vote.approve', 'request.approved'])[(g % 4 + 1)::int] END,
       'INV-' || (g / 4 + 1),
       1,
       'large',
       '9f2c4e1a7b3d5f608a1c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f',
       CASE WHEN g % 100 = 1 THEN 'refused' ELSE 'done' END,
       CASE WHEN g % 100 = 1 THEN 'already_voted' END,
       CASE WHEN g % 100 = 1 THEN jsonb_build_object(
                'message', 'You already voted on INV-' || (g / 4 + 1) || ' (version 1).', 'fields', '[]'::jsonb)
            WHEN g % 4 = 0 THEN jsonb_build_object('workflow', 'invoice', 'fields', jsonb_build_object(
                'amount', to_char(10000 + (g * 7919) % 90000, 'FM999,999') || '.' || lpad((g % 100)::text, 2, '0') || ' EUR',
                'vendor', 'Vendor ' || (g % 97) || ' GmbH',
                'cost_center', (ARRAY['ops', 'sales', 'research'])[(g % 3 + 1)::int]))
            WHEN g % 4 = 1 THEN jsonb_build_object('reason', null, 'progress', 'finance-approver 1/1, finance-director 0/1')
            WHEN g % 4 = 2 THEN jsonb_build_object('reason', null, 'progress', 'finance-approver 1/1, finance-director 1/1')
            ELSE jsonb_build_object('approvers', jsonb_build_array(p.approver, p.director), 'reason', null) END,
       'slack-' || substr(md5(g::text), 1, 16)
FROM generate_series($1::bigint, $2::bigint) AS g,
LATERAL (SELECT 'fa' || lpad((g / 4 % 20 + 1)::text, 2, '0') AS approver,
                'fd' || lpad((g / 4 % 20 + 1)::text, 2, '0') AS director) AS n,
LATERAL (SELECT CASE g % 4 WHEN 0 THEN 'rita' WHEN 1 THEN n.approver ELSE n.director END AS person,
                n.approver, n.director) AS p
"#;

/// A writer that only counts what it is given.
#[derive(Default)]
struct Counting(u64);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn fill(pool: &PgPool, entries: i64) -> anyhow::Result<()> {
    let mut from = 0;
    while from < entries {
        let to = (from + CHUNK).min(entries) - 1;
        sqlx::query(FILL).bind(from).bind(to).execute(pool).await?;
        from = to + 1;
    }
    sqlx::raw_sql("ANALYZE audit_log").execute(pool).await?;
    Ok(())
}

/// Seals until nothing is left unsealed (another session's open transaction can hold a pass's
/// horizon back); returns how many entries the passes sealed.
async fn seal_all(pool: &PgPool) -> anyhow::Result<u64> {
    let mut sealed = 0;
    for _ in 0..600 {
        sealed += audit::seal(pool).await?.sealed;
        if audit::unsealed(pool).await? == 0 {
            return Ok(sealed);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("entries stayed unsealed for a minute: is a long transaction open on the server?")
}

async fn export(pool: &PgPool, format: ExportFormat) -> anyhow::Result<(u64, u64, f64)> {
    let mut sink = Counting::default();
    let t = Instant::now();
    let n = audit::export(pool, format, ExportFilter::default(), &mut sink, |_, _| {}).await?;
    Ok((n, sink.0, t.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let entries = env_u64("BENCH_AUDIT_ENTRIES", 1_000_000).max(1);
    let base = common::database_url();
    let (_, pool) = common::fresh_database(&base, "countersign_bench_audit", 4).await?;

    println!("writing {entries} audit entries ...");
    let t = Instant::now();
    fill(&pool, entries as i64).await?;
    let fill_time = t.elapsed();
    let (rss_before, hwm_before) = (
        proc_status_mb("VmRSS:").unwrap_or(0.0),
        proc_status_mb("VmHWM:").unwrap_or(0.0),
    );

    println!("sealing ...");
    let t = Instant::now();
    let sealed = seal_all(&pool).await?;
    let seal_time = t.elapsed();
    let hwm_seal = proc_status_mb("VmHWM:").unwrap_or(0.0);

    println!("verifying ...");
    let t = Instant::now();
    let report = audit::verify(&pool, |_, _| {}).await?;
    let verify_time = t.elapsed();
    anyhow::ensure!(report.is_ok(), "the chain does not verify: {report:?}");
    anyhow::ensure!(
        report.checked == entries,
        "verified {} of {entries} entries",
        report.checked
    );

    println!("exporting ...");
    let (jsonl_n, jsonl_bytes, jsonl_secs) = export(&pool, ExportFormat::Jsonl).await?;
    let (csv_n, csv_bytes, csv_secs) = export(&pool, ExportFormat::Csv).await?;
    anyhow::ensure!(
        jsonl_n == entries && csv_n == entries,
        "exported {jsonl_n} / {csv_n} of {entries}"
    );
    let hwm = proc_status_mb("VmHWM:").unwrap_or(0.0);

    let seal_per_s = rate(sealed, seal_time);
    let verify_per_s = rate(report.checked, verify_time);
    let jsonl_per_s = jsonl_n as f64 / jsonl_secs;
    let mb = |b: u64| b as f64 / 1_048_576.0;
    table(
        "audit bench",
        &[
            ("entries", format!("{entries}")),
            ("write (INSERT ... SELECT)", format!("{:.1} s ({:.0}/s)", fill_time.as_secs_f64(), rate(entries, fill_time))),
            ("seal", format!("{:.1} s ({seal_per_s:.0} entries/s)", seal_time.as_secs_f64())),
            ("verify", format!("{:.1} s ({verify_per_s:.0} entries/s)", verify_time.as_secs_f64())),
            ("export jsonl", format!("{jsonl_secs:.1} s ({jsonl_per_s:.0} entries/s, {:.0} MiB)", mb(jsonl_bytes))),
            ("export csv", format!("{csv_secs:.1} s ({:.0} entries/s, {:.0} MiB)", csv_n as f64 / csv_secs, mb(csv_bytes))),
            ("memory", format!("VmRSS {rss_before:.0} MiB before sealing (VmHWM {hwm_before:.0}); VmHWM {hwm_seal:.0} MiB after sealing, {hwm:.0} MiB at the end")),
        ],
    );
    pool.close().await;
    println!(
        "{}",
        json!({
            "entries": entries,
            "seal_per_s": round(seal_per_s, 0),
            "verify_per_s": round(verify_per_s, 0),
            "export_jsonl_per_s": round(jsonl_per_s, 0),
            "rss_peak_mb": round(hwm, 1),
        })
    );
    Ok(())
}
