//! emotic-data
