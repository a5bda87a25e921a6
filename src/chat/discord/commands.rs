//! The `/approval` slash command with a subcommand per verb of the command language, as
//! registered with Discord.

use serenity::all::{CommandOptionType, CommandType};
use serenity::builder::{CreateCommand, CreateCommandOption};

fn text(name: &str, description: &str, required: bool) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, name, description).required(required)
}

fn sub(name: &str, description: &str, options: Vec<CreateCommandOption>) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::SubCommand, name, description).set_sub_options(options)
}

/// The `/approval` command.
pub fn approval_command() -> CreateCommand {
    let r#ref = || text("ref", "The request, e.g. INV-42", true);
    let workflow = text("workflow", "The workflow, e.g. invoice", true).set_autocomplete(true);
    let policy_wf = text("workflow", "One workflow (default: all)", false).set_autocomplete(true);
    let filter = ["pending", "mine", "all"]
        .into_iter()
        .fold(text("filter", "Which requests", false), |o, f| {
            o.add_string_choice(f, f)
        });
    CreateCommand::new("approval")
        .kind(CommandType::ChatInput)
        .description("Ask for, decide and look up approvals")
        .set_options(vec![
            sub(
                "new",
                "Open a request (missing fields open a form)",
                vec![
                    workflow,
                    text("fields", "field=value ... (quote values with spaces)", false),
                ],
            ),
            sub("approve", "Approve a request", vec![r#ref()]),
            sub(
                "reject",
                "Reject a request (a reason is required)",
                vec![r#ref(), text("reason", "Why", true)],
            ),
            sub(
                "cancel",
                "Withdraw your own pending request",
                vec![r#ref(), text("reason", "Why", false)],
            ),
            sub(
                "amend",
                "Change your pending request (earlier votes void)",
                vec![r#ref(), text("fields", "field=value ...", true)],
            ),
            sub("show", "The request card", vec![r#ref()]),
            sub("retry", "Run a failed effect again (owners, approvers)", vec![r#ref()]),
            sub("list", "Requests you may see", vec![filter]),
            sub("history", "The audit trail of one request", vec![r#ref()]),
            sub("policy", "The rules, in plain language", vec![policy_wf]),
            sub("whoami", "Your person, roles and identities", vec![]),
            sub("help", "The commands", vec![]),
        ])
}
