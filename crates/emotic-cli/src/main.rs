//! The `emotic` command line tool: emotion recognition for every person in images.
//!
//! Exit codes: 0 success; 1 the command failed (bad weights, unreadable source, ...); 2 wrong
//! usage (from the argument parser); 3 the command ran but some inputs failed (each is reported
//! on stderr and in the run's JSON lines); 130 stopped by Ctrl-C or SIGTERM after finalising
//! every output.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Context-aware emotion recognition for people in photos.
#[derive(Debug, Parser)]
#[command(name = "emotic", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log more (-v: debug, -vv: trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Detect people and their emotions in images, folders, globs, videos, webcams or streams.
    Predict(cmd::predict::PredictArgs),
    /// Write the ONNX graph built from a YOLOv5 checkpoint, or a bundle as ONNX graphs, state
    /// dicts and the reference `.pth` files.
    Export(cmd::export::ExportArgs),
    /// Time each stage of detection and emotion recognition on one image.
    Bench(cmd::bench::BenchArgs),
    /// Turn an EMOTIC release (or the reference's npy/csv arrays) into training data.
    Prepare(cmd::prepare::PrepareArgs),
    /// Score predictions: per-category AP, mAP, VAD error and precision == recall thresholds.
    Eval(cmd::eval::EvalArgs),
    /// Pack the reference EMOTIC checkpoints and thresholds into one model bundle.
    Import(cmd::import::ImportArgs),
    /// Emotions for boxes listed in a file (`path x1 y1 x2 y2` per line), like the reference.
    Infer(cmd::infer::InferArgs),
    /// Serve predictions over HTTP: a JSON API, a live WebSocket and a web page.
    Serve(cmd::serve::ServeArgs),
    /// Train the EMOTIC model (reference recipe) into a bundle `predict` loads.
    Train(cmd::train::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let outcome = match cli.command {
        Command::Predict(args) => cmd::predict::run(&args),
        Command::Export(args) => cmd::export::run(&args),
        Command::Bench(args) => cmd::bench::run(&args),
        Command::Prepare(args) => cmd::prepare::run(&args),
        Command::Eval(args) => cmd::eval::run(&args),
        Command::Import(args) => cmd::import::run(&args),
        Command::Infer(args) => cmd::infer::run(&args),
        Command::Train(args) => cmd::train::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
    };
    match outcome {
        Ok(cmd::Outcome::Success) => ExitCode::SUCCESS,
        Ok(cmd::Outcome::SomeInputsFailed) => ExitCode::from(3),
        // 128 + SIGINT, as shells report a program stopped with Ctrl-C.
        Ok(cmd::Outcome::Interrupted) => ExitCode::from(130),
        Err(err) => {
            // Library errors keep their causes in `source()` only, so the chain says each
            // thing once.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
