//! The annotated video of each video, webcam or stream input, and the `--view-img` window.

use emotic_io::video::FrameMeta;
use emotic_io::video::writer::{VideoCodec, VideoWriter, Viewer};
use image::RgbImage;

use super::RunFolder;
use crate::Result;

/// Output videos play at the input's rate divided by the stride, so they last as long as the
/// input did. Unknown rates (some streams) are taken as 30 fps, as YOLOv5 does.
#[must_use]
pub fn output_fps(meta: &FrameMeta, stride: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let stride = stride.max(1) as f64;
    meta.fps.unwrap_or(30.0) / stride
}

/// One input's annotated video and viewer window, opened at its first frame.
#[derive(Debug, Default)]
pub struct InputVideo {
    writer: Option<VideoWriter>,
    /// Set once creating the writer was tried (it is not retried after a failure).
    writer_tried: bool,
    viewer: Option<Viewer>,
    viewer_tried: bool,
}

impl InputVideo {
    /// Appends a frame to `<stem>.mp4`, creating it at the first frame. A failure is returned
    /// once; the input's later frames are then not written.
    ///
    /// # Errors
    /// When the video cannot be created or written.
    pub fn write(
        &mut self,
        folder: &mut RunFolder,
        stem: &str,
        annotated: &RgbImage,
        fps: f64,
        codec: VideoCodec,
    ) -> Result<()> {
        if !self.writer_tried {
            self.writer_tried = true;
            let path = folder.unique(&[], stem, "mp4")?;
            self.writer = Some(VideoWriter::create(
                &path,
                annotated.width(),
                annotated.height(),
                fps,
                codec,
            )?);
        }
        if let Some(writer) = &mut self.writer
            && let Err(e) = writer.write(annotated)
        {
            self.writer = None;
            return Err(e.into());
        }
        Ok(())
    }

    /// Shows a frame in the viewer window, opening it at the first frame. A failure to open
    /// is returned once and not retried.
    ///
    /// # Errors
    /// When the window cannot be opened.
    pub fn show(&mut self, title: &str, annotated: &RgbImage, fps: f64) -> Result<()> {
        if !self.viewer_tried {
            self.viewer_tried = true;
            self.viewer = Some(Viewer::open(
                title,
                annotated.width(),
                annotated.height(),
                fps,
            )?);
        }
        if let Some(viewer) = &mut self.viewer {
            viewer.show(annotated);
        }
        Ok(())
    }

    /// Closes the window and finalises the video; returns its path and frame count.
    ///
    /// # Errors
    /// When ffmpeg fails to finalise the file.
    pub fn finish(mut self) -> Result<Option<(std::path::PathBuf, u64)>> {
        self.viewer = None;
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        let frames = writer.frames();
        Ok(Some((writer.finish()?, frames)))
    }
}
