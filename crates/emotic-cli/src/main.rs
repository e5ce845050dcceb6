//! The `emotic` command line tool.
fn main() {}
