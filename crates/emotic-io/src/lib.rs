//! Inputs and outputs around the `emotic` library.
//!
//! | module | job |
//! |---|---|
//! | [`source`] | what `--source` names (file, folder, glob, list, webcam, stream) and its files |
//! | [`image_file`] | reading images (EXIF orientation applied, size limits) and writing them atomically |
//! | [`annotate`] | drawing boxes and readable labels |
//! | [`run_dir`] | `runs/<task>/exp`, `exp2`, ... |
//! | [`sinks`] | YOLO label lines, crops, JSON lines |
//! | [`video`] | video files, webcams and streams in, annotated video out (through ffmpeg) |

mod error;

pub mod annotate;
pub mod image_file;
pub mod run_dir;
pub mod sinks;
pub mod source;
pub mod video;

pub use error::{Error, Result};
