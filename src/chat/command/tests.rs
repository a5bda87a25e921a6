//! Tests of the command grammar.

use super::*;

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_new_request_reads_quoted_values_with_spaces() {
    let cmd = parse(r#"/approval new invoice amount=1200.00 vendor="ACME GmbH""#).unwrap();
    assert_eq!(
        cmd,
        Command::New {
            workflow: "invoice".into(),
            fields: kv(&[("amount", "1200.00"), ("vendor", "ACME GmbH")])
        }
    );
}

#[test]
fn the_leading_slash_command_is_optional() {
    assert_eq!(parse("whoami").unwrap(), Command::Whoami);
    assert_eq!(parse("/approval whoami").unwrap(), Command::Whoami);
}

#[test]
fn an_approval_may_name_the_version_the_voter_saw() {
    assert_eq!(
        parse("approve INV-3@2").unwrap(),
        Command::Approve {
            r#ref: "INV-3".into(),
            version: Some(2)
        }
    );
    assert_eq!(
        parse("approve INV-3").unwrap(),
        Command::Approve {
            r#ref: "INV-3".into(),
            version: None
        }
    );
    assert!(matches!(parse("approve INV-3@x"), Err(CommandError::Usage(_))));
}

#[test]
fn a_reject_keeps_its_whole_reason() {
    assert_eq!(
        parse("reject INV-1 duplicate of INV-0, already paid").unwrap(),
        Command::Reject {
            r#ref: "INV-1".into(),
            version: None,
            reason: "duplicate of INV-0, already paid".into()
        }
    );
}

#[test]
fn a_reject_without_a_reason_still_parses_so_the_engine_can_audit_the_refusal() {
    assert_eq!(
        parse("reject INV-1").unwrap(),
        Command::Reject {
            r#ref: "INV-1".into(),
            version: None,
            reason: String::new()
        }
    );
}

#[test]
fn list_takes_a_filter() {
    assert_eq!(parse("list").unwrap(), Command::List(ListFilter::Pending));
    assert_eq!(parse("list mine").unwrap(), Command::List(ListFilter::Mine));
    assert_eq!(parse("list ALL").unwrap(), Command::List(ListFilter::All));
    assert!(parse("list everything").is_err());
}

#[test]
fn malformed_lines_say_what_to_type() {
    assert_eq!(parse("   "), Err(CommandError::Empty));
    assert!(matches!(parse("aprove INV-1"), Err(CommandError::UnknownVerb(v)) if v == "aprove"));
    assert!(parse("new").unwrap_err().to_string().contains("Usage: new <workflow>"));
    assert!(parse("new invoice amount")
        .unwrap_err()
        .to_string()
        .contains("not a field=value pair"));
    assert!(parse("amend INV-1").unwrap_err().to_string().contains("Usage: amend"));
    assert!(matches!(
        parse(r#"new invoice vendor="ACME"#),
        Err(CommandError::Quote(_))
    ));
    assert!(parse("show").unwrap_err().to_string().contains("Usage: show <REF>"));
}

#[test]
fn smart_quotes_from_mobile_keyboards_group_words_too() {
    let cmd = parse("new invoice vendor=“ACME GmbH” amount=5").unwrap();
    assert_eq!(
        cmd,
        Command::New {
            workflow: "invoice".into(),
            fields: kv(&[("vendor", "ACME GmbH"), ("amount", "5")])
        }
    );
}

#[test]
fn an_apostrophe_inside_a_word_is_not_a_quote() {
    assert_eq!(
        parse("reject INV-1 duplicate of last week's invoice").unwrap(),
        Command::Reject {
            r#ref: "INV-1".into(),
            version: None,
            reason: "duplicate of last week's invoice".into()
        }
    );
    assert_eq!(
        parse(r#"new invoice vendor="O'Brien & Sons""#).unwrap(),
        Command::New {
            workflow: "invoice".into(),
            fields: kv(&[("vendor", "O'Brien & Sons")])
        }
    );
}

#[test]
fn a_button_whose_version_is_not_a_version_votes_on_no_version() {
    use crate::chat::command::button_vote_target;
    assert_eq!(button_vote_target("INV-1@2"), ("INV-1".to_string(), 2));
    for tampered in [
        "INV-1@99999999999",
        "INV-1@-1",
        "INV-1@0",
        "INV-1@two",
        "INV-1@",
        "INV-1",
    ] {
        assert_eq!(button_vote_target(tampered).1, 0, "{tampered}");
    }
}

mod round_trips {
    use crate::approval::Ref;
    use crate::chat::command::split_words;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_ref_prints_and_parses_back_in_any_case(prefix in "[A-Za-z]{1,8}", number in 1u64..=999_999_999_999_999_999) {
            let r = Ref::parse(&format!("{prefix}-{number}")).expect("valid");
            prop_assert_eq!(Ref::parse(&r.to_string()).expect("printed"), r.clone());
            prop_assert_eq!(Ref::parse(&r.to_string().to_lowercase()).expect("lower case"), r);
        }

        #[test]
        fn quoted_values_come_back_whole(
            words in proptest::collection::vec("[a-z_]{1,8}=[^\"\\s]{0,6}( [^\"\\s]{1,6}){0,3}", 1..6)
        ) {
            let line: Vec<String> = words
                .iter()
                .map(|w| {
                    let (k, v) = w.split_once('=').unwrap();
                    format!("{k}=\"{v}\"")
                })
                .collect();
            prop_assert_eq!(split_words(&line.join(" ")).expect("splits"), words);
        }
    }
}
