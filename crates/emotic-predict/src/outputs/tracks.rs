//! `tracks.json` and the per-track VAD plots, rewritten whenever an input ends.

use emotic::tracking::EmotionTracker;
use emotic_io::image_file;

use super::RunFolder;
use super::vad_plot::write_vad_plot;
use crate::Result;
use crate::schema::{SourceTracks, TrackRecord, TracksFile};
use emotic::emotion::VAD_NAMES;

/// Adds an input's tracks to `file`, drawing `tracks/<stem>_track<id>.png` for each track
/// that had an emotion, then replaces `tracks.json` (atomically, so it is whole at any exit).
///
/// # Errors
/// When a plot or the file cannot be written.
pub fn write_input_tracks(
    folder: &mut RunFolder,
    file: &mut TracksFile,
    source: &str,
    stem: &str,
    frames_processed: u64,
    tracker: &EmotionTracker,
) -> Result<()> {
    let mut tracks = Vec::new();
    for history in tracker.histories().values() {
        let mut plot = None;
        if !history.points().is_empty() {
            let path =
                folder.unique(&["tracks"], &format!("{stem}_track{}", history.id()), "png")?;
            let title = format!(
                "{stem}: track {} (EMA window {})",
                history.id(),
                file.smooth_window
            );
            write_vad_plot(&path, &title, history.points(), VAD_NAMES)?;
            plot = Some(folder.relative(&path));
        }
        tracks.push(TrackRecord::new(history.summary(), plot));
    }
    file.sources.push(SourceTracks {
        frames_processed,
        source: source.to_string(),
        tracks,
    });
    let path = folder.dir().join("tracks.json");
    let text = serde_json::to_string_pretty(file).map_err(emotic_io::Error::from)?;
    image_file::write_atomic(&path, text.as_bytes())?;
    Ok(())
}
