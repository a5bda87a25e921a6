//! Durations as written in policy files ("30m", "24h", "7d", "1h30m") and as said in prose.

use std::time::Duration;

/// Parses a duration made of `<number><unit>` parts with units `d`, `h`, `m`, `s`, largest
/// first, each at most once: "30m", "24h", "7d", "1h30m". Zero is refused: a request that
/// expires at once, or a reminder sent immediately, is always a mistake.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let usage = || format!("`{s}` is not a duration; write e.g. 30m, 24h, 7d or 1h30m");
    if s.is_empty() {
        return Err(usage());
    }
    let units: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut next_unit = 0; // index into `units`: enforces largest-first, each once
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let pos = units[next_unit..].iter().position(|(u, _)| *u == c);
        let (Some(pos), false) = (pos, number.is_empty()) else {
            return Err(usage());
        };
        let (_, secs) = units[next_unit + pos];
        next_unit += pos + 1;
        let n: u64 = number.parse().map_err(|_| usage())?;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(usage());
    }
    if total == 0 {
        return Err(format!("`{s}` is zero; a duration must be longer than that"));
    }
    Ok(Duration::from_secs(total))
}

/// Says a duration in words, in hours when it is whole hours ("72 hours", so people can
/// compare it with the file), else hours and minutes ("1 hour 30 minutes").
pub(crate) fn describe_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let parts = [
        (secs / 3600, "hour"),
        ((secs % 3600) / 60, "minute"),
        (secs % 60, "second"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "0 seconds".to_owned()
    } else {
        words.join(" ")
    }
}
