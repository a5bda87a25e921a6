//! Each positioned problem carries the line it is on with the part at fault marked, so that
//! `countersign check` can show it under the `file:line:col: message` line.

use super::{refusals, FLOW, PEOPLE};
use crate::policy::{CheckError, Excerpt};

fn only(errors: &[CheckError]) -> &CheckError {
    assert_eq!(errors.len(), 1, "expected one problem, got {errors:#?}");
    &errors[0]
}

/// The marked part of the problem's line.
fn marked(e: &CheckError) -> &str {
    let Some(Excerpt { text, marked }) = &e.excerpt else {
        panic!("no excerpt in {e:#?}");
    };
    &text[marked.clone()]
}

#[test]
fn an_unknown_key_is_marked_on_its_line() {
    let flow = FLOW.replace("required = true", "requird = true");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    let e = only(&errors);
    assert_eq!(e.excerpt.as_ref().map(|x| x.text.as_str()), Some("requird = true"));
    assert_eq!(marked(e), "requird");
}

#[test]
fn a_problem_in_a_condition_marks_the_whole_word() {
    let flow = FLOW.replace("amount >= 100", "amount >= 100.505");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_eq!(marked(only(&errors)), "100.505");
}

#[test]
fn an_unterminated_string_is_marked_at_the_end_of_its_line() {
    let people = "[[person]]\nid = \"alice\nname = \"A\"\n";
    let errors = refusals(&[("people.toml", people)]);
    let e = only(&errors);
    let excerpt = e.excerpt.as_ref().expect("an excerpt");
    assert_eq!(excerpt.text, "id = \"alice");
    assert_eq!(excerpt.marked, 11..11, "{e:#?}");
}

#[test]
fn a_key_set_twice_is_named() {
    let people = "[[person]]\nid = \"alice\"\nid = \"bob\"\n";
    let errors = refusals(&[("people.toml", people)]);
    let e = only(&errors);
    assert_eq!((e.line, e.col), (3, 1));
    assert!(e.message.starts_with("duplicate key `id`"), "{}", e.message);
}

#[test]
fn a_problem_with_the_whole_file_shows_no_line() {
    let errors = refusals(&[("flow.toml", FLOW)]);
    assert!(errors.iter().all(|e| e.excerpt.is_none()), "{errors:#?}");
}
