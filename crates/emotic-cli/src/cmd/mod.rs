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
