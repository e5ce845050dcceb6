//! One module per subcommand. Each has an `Args` struct (clap derive) and
//! `run(&Args) -> anyhow::Result<Outcome>`; only `main` turns the result into an exit code.

pub mod bench;
pub mod eval;
pub mod export;
pub mod import;
pub mod infer;
pub mod predict;
pub mod prepare;
pub mod serve;
pub mod train;

/// How a command that did not fail outright ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was processed.
    Success,
    /// The command finished, but some inputs could not be processed (reported individually).
    SomeInputsFailed,
    /// Stopped by Ctrl-C or SIGTERM; everything written so far was finalised.
    Interrupted,
}

/// Renders an error and its causes on one line, `outer: inner: ...`, leaving out a cause whose
/// text the line already contains. (Many error types, ours included, put their cause in their
/// own message; printing the chain as is would repeat it.)
pub fn render_error(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::render_error;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(io)
            .context("cannot read a.pt: disk on fire")
            .context("loading");
        assert_eq!(
            render_error(&err),
            "loading: cannot read a.pt: disk on fire"
        );
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(render_error(&err), "outer: inner");
    }
}
