//! What `PolicySet::load` refuses in people.toml, with positions.

use super::{assert_at, assert_one, refusals, TempDir, PEOPLE};
use crate::policy::PolicySet;

fn person(id: &str, extra: &str) -> String {
    format!("[[person]]\nid = \"{id}\"\nname = \"{id}\"\n{extra}\n")
}

#[test]
fn a_slack_identity_without_its_workspace_is_refused() {
    let people = person("alice", "slack = [\"U0ALICE\"]");
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        4,
        10,
        "slack identity must be WORKSPACE/USER, e.g. T0001/U0ALICE",
    );
}

#[test]
fn a_discord_id_that_is_not_digits_is_refused() {
    let people = person("alice", "discord = [\"alice#1234\"]");
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        4,
        12,
        "discord id `alice#1234` must be the numeric user id",
    );
}

#[test]
fn an_identity_claimed_by_two_people_is_refused() {
    let people = format!(
        "{}{}",
        person("alice", "slack = [\"T1/U1\"]\ndiscord = [\"42\"]"),
        person("bob", "slack = [\"T1/U1\"]\ndiscord = [\"42\"]")
    );
    let errors = refusals(&[("people.toml", &people)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors,
        "people.toml",
        9,
        10,
        "slack identity T1/U1 is already claimed by `alice` (line 4)",
    );
    assert_at(
        &errors,
        "people.toml",
        10,
        12,
        "discord id 42 is already claimed by `alice` (line 5)",
    );
}

#[test]
fn a_person_defined_twice_is_refused_naming_the_first() {
    let people = format!("{}{}", person("alice", ""), person("alice", ""));
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        6,
        6,
        "person `alice` is defined twice (first on line 2)",
    );
}

#[test]
fn a_team_member_who_is_not_a_person_is_refused() {
    let people = format!("{}[team.ops]\nmembers = [\"alice\", \"zed\"]\n", person("alice", ""));
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        6,
        21,
        "team `ops` lists `zed`, who is not a [[person]]",
    );
}

#[test]
fn an_unknown_key_names_its_table_and_the_keys_allowed() {
    let people = person("alice", "role = [\"analyst\"]");
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        4,
        1,
        "unknown key `role` in [[person]] #1; expected one of: id, name, roles",
    );
}

#[test]
fn an_unknown_top_level_table_is_refused() {
    let people = format!("{PEOPLE}\n[[robot]]\nid = \"ci\"\n");
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(&errors, "people.toml", 25, 3, "unknown key `robot` in people.toml");
}

#[test]
fn a_person_without_a_name_and_a_bad_id_gets_both_problems() {
    let people = "[[person]]\nid = \"Alice\"\n";
    let errors = refusals(&[("people.toml", people)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(&errors, "people.toml", 1, 1, "[[person]] #1 is missing `name`");
    assert_at(&errors, "people.toml", 2, 6, "`Alice` is not a valid person id");
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    let people = "[[person]]\nid = \"alice\"\nname = \"A\"\nroles = \"analyst\"\n";
    let errors = refusals(&[("people.toml", people)]);
    assert_one(
        &errors,
        "people.toml",
        4,
        9,
        "`roles` in [[person]] #1 must be a list of strings, not a string",
    );
}

#[test]
fn a_toml_syntax_error_is_reported_at_its_position() {
    let people = "[[person]]\nid = \"alice\nname = \"A\"\n";
    let errors = refusals(&[("people.toml", people)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].col), (2, 12), "{errors:#?}");
}

#[test]
fn a_missing_people_file_is_refused() {
    let dir = TempDir::new();
    let errors = PolicySet::load(dir.path()).expect_err("no people.toml");
    assert_one(&errors, "people.toml", 1, 1, "people.toml is missing");
}

#[test]
fn a_check_error_displays_as_file_line_col_message() {
    let people = person("alice", "slack = [\"U0ALICE\"]");
    let errors = refusals(&[("people.toml", &people)]);
    let shown = errors[0].to_string();
    assert!(
        shown.ends_with("people.toml:4:10: slack identity must be WORKSPACE/USER, e.g. T0001/U0ALICE"),
        "{shown}"
    );
}

#[test]
fn the_directory_finds_people_by_chat_identity_and_role() {
    let set = super::examples();
    let dir = &set.directory;
    use crate::chat::address::{ChatUser, Platform};
    let user = |platform, workspace: Option<&str>, user: &str| ChatUser {
        platform,
        workspace: workspace.map(str::to_owned),
        user: user.to_owned(),
    };
    let alice = dir
        .by_chat(&user(Platform::Slack, Some("T0001"), "U0ALICE"))
        .map(|p| p.id.as_str());
    assert_eq!(alice, Some("alice"));
    assert_eq!(
        dir.by_chat(&user(Platform::Slack, Some("T9999"), "U0ALICE")),
        None,
        "the workspace is part of the identity"
    );
    assert_eq!(
        dir.by_chat(&user(Platform::Discord, None, "111111111111111111"))
            .map(|p| p.id.as_str()),
        Some("alice")
    );
    let role = crate::policy::Role::parse("security-approver").expect("role");
    let holders: Vec<&str> = dir.holders(&role).iter().map(|p| p.id.as_str()).collect();
    assert_eq!(holders, ["erin", "ivan"]);
    assert_eq!(dir.hash.len(), 64);
}

#[test]
fn identities_are_checked_even_when_the_id_is_bad() {
    let people = "[[person]]\nid = \"Bad Id\"\nname = \"B\"\nslack = [\"UBAD\"]\ndiscord = [\"x\"]\n";
    let errors = refusals(&[("people.toml", people)]);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_at(&errors, "people.toml", 4, 10, "slack identity must be WORKSPACE/USER");
    assert_at(
        &errors,
        "people.toml",
        5,
        12,
        "discord id `x` must be the numeric user id",
    );
}
