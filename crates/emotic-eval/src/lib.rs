//! emotic-eval
