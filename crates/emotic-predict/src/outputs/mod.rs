//! Everything a run writes, from the typed results: the run folder, the JSON lines, annotated
//! images and videos, YOLO label files, crops, the CSV, and per-track summaries and plots.
//!
//! | module | writes |
//! |---|---|
//! | [`run_folder`] | `runs/predict/expN/`, never reusing a name |
//! | [`draw`] | boxes and label text on a frame |
//! | [`labels`] | `labels/<stem>.txt`, YOLO format |
//! | [`crops`] | `crops/<class>/<stem>.jpg` |
//! | [`csv_rows`] | `predictions.csv`, one row per person |
//! | [`videos`] | `<stem>.mp4` per video input, and the `--view-img` window |
//! | [`tracks`] | `tracks.json` and `tracks/<stem>_track<id>.png` |
//! | [`vad_plot`] | the VAD-over-time plot of one track |

pub mod crops;
pub mod csv_rows;
pub mod draw;
pub mod labels;
pub mod run_folder;
pub mod tracks;
pub mod vad_plot;
pub mod videos;

pub use draw::{LabelStyle, draw_frame};
pub use run_folder::RunFolder;
