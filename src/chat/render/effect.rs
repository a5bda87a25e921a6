//! The effect lines of a card: where the approved statement runs, with which values, what its
//! preview said, and how its run stands.

use super::one_line;
use crate::approval::Status;
use crate::engine::RequestView;

/// How the request's effect stands, as the card's last effect line says it.
pub fn effect_state_line(v: &RequestView) -> Option<String> {
    effect_lines(v).pop()
}

/// "Effect on erp: UPDATE ...", "With :vendor = 'ACME', :amount = 80.00", and how it stands.
pub(super) fn effect_lines(v: &RequestView) -> Vec<String> {
    use crate::engine::EffectState;
    let Some(e) = &v.effect else {
        return Vec::new();
    };
    let mut lines = vec![format!("Effect on {}: {}", e.target, one_line(e.sql.trim()))];
    if !e.values.is_empty() {
        let values: Vec<String> = e.values.iter().map(|(k, v)| format!("{k} = {}", one_line(v))).collect();
        lines.push(format!("With {}", values.join(", ")));
    }
    let rows = |n: i64| {
        if n == 1 {
            "1 row".to_string()
        } else {
            format!("{n} rows")
        }
    };
    if v.status == Status::Pending {
        use crate::engine::PreviewView;
        let expected = e.expect_rows.and_then(|n| i64::try_from(n).ok());
        match &e.preview {
            PreviewView::Off => lines.push("No preview: this effect cannot be tried and rolled back".to_string()),
            PreviewView::None => {}
            PreviewView::WouldChange { rows: n } if expected.is_some_and(|x| x != *n) => lines.push(format!(
                "Preview: it would change {}, not the {} expected, so it would fail",
                rows(*n),
                rows(expected.unwrap_or_default())
            )),
            PreviewView::WouldChange { rows: n } => lines.push(format!("Preview: it would change {}", rows(*n))),
            PreviewView::WouldFail { error } => lines.push(format!("Preview: it would fail: {}", one_line(error))),
        }
    }
    lines.push(match &e.state {
        EffectState::NotRun if v.status == Status::Pending => match e.expect_rows {
            Some(n) => format!(
                "Runs once when approved, and must change {}",
                rows(i64::try_from(n).unwrap_or(i64::MAX))
            ),
            None => "Runs once when approved".to_string(),
        },
        EffectState::NotRun => "Not run: the request was not approved".to_string(),
        EffectState::Waiting => format!("Approved: the effect on {} is waiting to run", e.target),
        EffectState::Executed { rows: n } => format!("Executed on {}: {} changed", e.target, rows(*n)),
        EffectState::Failed { error } => format!(
            "Approved, but the effect failed: {} — the owner team has been told (retry {} once the cause is fixed)",
            one_line(error),
            v.r#ref
        ),
    });
    lines
}
