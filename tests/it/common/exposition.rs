//! Reading the Prometheus text that `/metrics` serves: one series' value, and the families
//! that go out without a HELP line.

use std::collections::BTreeSet;

/// The value of the series written exactly as `series` (name and labels), if it is there.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The families of an exposition that have no `# HELP` line, and the samples that belong to
/// no declared family.
pub fn undescribed(text: &str) -> Vec<String> {
    let declared = |prefix: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    };
    let (typed, helped) = (declared("# TYPE "), declared("# HELP "));
    let mut missing: Vec<String> = typed.difference(&helped).cloned().collect();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        if !typed.contains(family) {
            missing.push(name.to_owned());
        }
    }
    missing
}
