//! How the API shows a request as JSON, and how it reads query strings.

use crate::engine::RequestView;
use serde_json::{json, Map, Value};

/// A request as JSON: status, version, fields (as shown to people, money with its currency),
/// the votes that count and what is still needed.
pub(super) fn request_json(v: &RequestView) -> Value {
    let fields: Map<String, Value> = v.fields.iter().map(|f| (f.name.clone(), json!(f.value))).collect();
    let mut votes: Vec<Value> = v
        .groups
        .iter()
        .flat_map(|g| {
            g.filled_by
                .iter()
                .map(move |p| json!({ "kind": "approve", "voter": p, "role": g.role }))
        })
        .collect();
    if let Some((p, reason)) = &v.rejected_by {
        votes.push(json!({ "kind": "reject", "voter": p, "reason": reason }));
    }
    let needed: Vec<Value> = if v.status.is_final() {
        Vec::new()
    } else {
        v.groups
            .iter()
            .filter(|g| (g.filled_by.len() as u32) < g.needed)
            .map(|g| json!({ "role": g.role, "missing": g.needed - g.filled_by.len() as u32 }))
            .collect()
    };
    json!({
        "ref": v.r#ref,
        "workflow": v.workflow,
        "workflow_title": v.workflow_title,
        "status": v.status.as_str(),
        "version": v.version,
        "requester": v.requester,
        "fields": fields,
        "rule": v.rule,
        "groups": v.groups.iter().map(|g| json!({ "role": g.role, "needed": g.needed, "approved_by": g.filled_by })).collect::<Vec<_>>(),
        "votes": votes,
        "needed": needed,
        "needed_summary": v.needed_summary(),
        "cancel_reason": v.cancel_reason,
        "created_at": v.created_at,
        "expires_at": v.expires_at,
        "decided_at": v.decided_at,
    })
}

/// The query string's pairs, refusing parameters not in `accepted` and repeated ones.
pub(super) fn query_pairs(q: Option<&str>, accepted: &[&str]) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(q.unwrap_or("")).map_err(|e| format!("the query string does not read: {e}"))?;
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in &pairs {
        if !accepted.contains(&k.as_str()) {
            return Err(format!(
                "unknown parameter `{k}`; this route accepts: {}",
                accepted.join(", ")
            ));
        }
        if seen.contains(&k.as_str()) {
            return Err(format!("parameter `{k}` is given twice"));
        }
        seen.push(k);
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::query_pairs;

    #[test]
    fn a_query_string_names_only_accepted_parameters_once() {
        let ok = query_pairs(Some("status=pending&workflow=invoice"), &["status", "workflow"]).unwrap();
        assert_eq!(ok.len(), 2);
        assert!(query_pairs(None, &["status"]).unwrap().is_empty());
        assert!(query_pairs(Some("stauts=pending"), &["status"])
            .unwrap_err()
            .contains("unknown parameter `stauts`"));
        assert!(query_pairs(Some("status=a&status=b"), &["status"])
            .unwrap_err()
            .contains("twice"));
    }
}
