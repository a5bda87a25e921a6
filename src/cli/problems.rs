//! `countersign check`'s problems as a person reads them: the `file:line:col: message` line
//! that scripts and editors parse, then the line of the file with the part at fault underlined.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::policy::CheckError;

/// The problem's `file:line:col: message` line, followed (when the problem has a place in the
/// file) by that line of the file with a caret underline. Ends without a newline.
pub fn render(problem: &CheckError) -> String {
    let Some(excerpt) = &problem.excerpt else {
        return problem.to_string();
    };
    // No title: the first line above already says what is wrong, in the form tools parse.
    let report = [Group::with_level(Level::ERROR).element(
        Snippet::source(excerpt.text.as_str())
            .line_start(problem.line)
            .annotation(AnnotationKind::Primary.span(excerpt.marked.clone())),
    )];
    format!("{problem}\n{}", Renderer::plain().render(&report))
}

#[cfg(test)]
mod tests {
    use super::render;
    use crate::policy::{CheckError, Excerpt};

    fn problem(excerpt: Option<Excerpt>) -> CheckError {
        CheckError {
            file: "invoice.toml".into(),
            line: 12,
            col: 1,
            message: "unknown key `max_lenght` in [fields.vendor]".to_owned(),
            excerpt,
        }
    }

    #[test]
    fn the_line_at_fault_follows_the_problem_with_a_caret_underline() {
        let shown = render(&problem(Some(Excerpt {
            text: "max_lenght = 120".to_owned(),
            marked: 0..10,
        })));
        let expected = "invoice.toml:12:1: unknown key `max_lenght` in [fields.vendor]\n   |\n12 | max_lenght = 120\n   | ^^^^^^^^^^";
        assert_eq!(shown, expected);
    }

    #[test]
    fn a_problem_without_a_place_is_its_line_alone() {
        assert_eq!(
            render(&problem(None)),
            "invoice.toml:12:1: unknown key `max_lenght` in [fields.vendor]"
        );
    }
}
