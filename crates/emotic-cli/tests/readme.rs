//! The README's commands are the ones CI runs.

use std::path::Path;

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(name),
    )
    .unwrap()
}

/// The shell commands in the README's code blocks, in order.
fn readme_commands() -> Vec<String> {
    let readme = repo_file("README.md");
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        } else if in_block && !line.trim().is_empty() {
            commands.push(line.trim().to_string());
        }
    }
    commands
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let commands = readme_commands();
    assert!(commands.len() >= 2, "the README opens with two commands");
    assert!(
        commands[0].contains("predict"),
        "the first command runs the main job"
    );
    let test_command = &commands[1];
    assert!(
        test_command.contains("cargo test"),
        "the second command runs the tests"
    );
    let ci = repo_file(".ci/run");
    let last = ci.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(last.trim(), test_command);
}
