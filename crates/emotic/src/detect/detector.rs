//! The detector: a YOLO model on ONNX Runtime plus YOLOv5's pre- and post-processing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;

use super::letterbox::{LetterboxGeometry, PadMode, letterbox_with, to_chw_unit};
use super::nms::{Detection, NmsConfig, RowLayout, non_max_suppression};
use crate::engine::{Session, SessionOptions};
use crate::{Error, Result};

/// Detection settings, with `detect.py`'s defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// Inference size `(height, width)` (`--imgsz`).
    pub imgsz: (u32, u32),
    /// Pad to the full `imgsz` square instead of the minimal stride multiple. Fixed-shape ONNX
    /// models always get the square.
    pub square: bool,
    /// NMS settings.
    pub nms: NmsConfig,
}

impl DetectConfig {
    /// `--imgsz` default.
    pub const DEFAULT_IMGSZ: u32 = 640;
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            imgsz: (Self::DEFAULT_IMGSZ, Self::DEFAULT_IMGSZ),
            square: false,
            nms: NmsConfig::default(),
        }
    }
}

/// Milliseconds spent in each stage for one image, as `detect.py` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Letterbox and tensor conversion.
    pub preprocess_ms: f64,
    /// The network.
    pub inference_ms: f64,
    /// Output decoding and NMS.
    pub nms_ms: f64,
}

/// What [`Detector::detect`] returns for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorOutput {
    /// Detections in original-image pixels, best first.
    pub detections: Vec<Detection>,
    /// The letterboxed tensor's shape `[1, 3, h, w]`.
    pub input_shape: [usize; 4],
    /// Stage timings.
    pub timings: Timings,
}

/// A YOLO detector. Build it once; it holds the ONNX Runtime session.
#[derive(Debug)]
pub struct Detector {
    session: Session,
    input_name: String,
    names: Vec<String>,
    stride: u32,
    /// Set when the model only accepts one input size.
    fixed_input_hw: Option<(u32, u32)>,
    weights: PathBuf,
}

impl Detector {
    /// Loads a detector from a YOLOv5 PyTorch checkpoint (`.pt`, the graph is built from it) or an
    /// ONNX export of YOLOv5, YOLOv8 or YOLO11 (`.onnx`).
    ///
    /// # Errors
    /// When the file is missing, truncated, not a detector, or ONNX Runtime is unavailable.
    pub fn load(path: &Path, options: SessionOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: "no such file".into(),
            });
        }
        let is_onnx = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
        if is_onnx {
            Self::from_onnx(path, options)
        } else {
            Self::from_checkpoint(path, options)
        }
    }

    fn from_checkpoint(path: &Path, options: SessionOptions) -> Result<Self> {
        let not_usable = |e: Error| Error::Model {
            path: path.to_path_buf(),
            message: format!(
                "not a usable YOLOv5 checkpoint: {}",
                emotic_weights::cause_in_file(path, &e)
            ),
        };
        // The model dict first: a file that is no detector is refused before its weights are
        // read (and inflated, and widened).
        let opened = emotic_weights::open_checkpoint(path)?;
        crate::arch::yolov5::check_model_dict(&opened.meta).map_err(not_usable)?;
        let checkpoint = opened.load()?;
        let graph = crate::arch::yolov5::build_yolov5(&checkpoint).map_err(not_usable)?;
        let session = Session::from_bytes(&graph.model, options)?;
        let input_name = session
            .inputs()
            .first()
            .map(|i| i.name.clone())
            .unwrap_or_default();
        Ok(Self {
            session,
            input_name,
            names: graph.names.clone(),
            stride: graph.max_stride(),
            fixed_input_hw: None,
            weights: path.to_path_buf(),
        })
    }

    fn from_onnx(path: &Path, options: SessionOptions) -> Result<Self> {
        let session = Session::from_file(path, options)?;
        let Some(input) = session.inputs().first().cloned() else {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: "model has no input".into(),
            });
        };
        if input.shape.len() != 4 {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!(
                    "expected an image input [N,3,H,W], found shape {:?}",
                    input.shape
                ),
            });
        }
        let fixed_input_hw = match (input.shape[2], input.shape[3]) {
            (Some(h), Some(w)) => Some((to_u32(h)?, to_u32(w)?)),
            _ => None,
        };
        let names = session
            .metadata("names")
            .map(|s| parse_names(&s))
            .unwrap_or_default();
        let stride = session
            .metadata("stride")
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(32);
        Ok(Self {
            input_name: input.name,
            session,
            names,
            stride,
            fixed_input_hw,
            weights: path.to_path_buf(),
        })
    }

    /// Class names, indexed by class id (`person` is 0 for COCO models).
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The weights file this detector was loaded from.
    #[must_use]
    pub fn weights(&self) -> &Path {
        &self.weights
    }

    /// The largest stride of the model; input sizes are multiples of it.
    #[must_use]
    pub fn stride(&self) -> u32 {
        self.stride
    }

    /// The letterbox geometry `detect` will use for an image of `image_hw`.
    #[must_use]
    pub fn geometry(&self, image_hw: (u32, u32), config: &DetectConfig) -> LetterboxGeometry {
        match self.fixed_input_hw {
            Some(hw) => LetterboxGeometry::new(image_hw, hw, PadMode::Square),
            None => {
                let target = (
                    round_up(config.imgsz.0, self.stride),
                    round_up(config.imgsz.1, self.stride),
                );
                let mode = if config.square {
                    PadMode::Square
                } else {
                    PadMode::MinimalToStride(self.stride)
                };
                LetterboxGeometry::new(image_hw, target, mode)
            }
        }
    }

    /// Detects objects in one RGB image.
    ///
    /// # Errors
    /// When ONNX Runtime fails or the model output has an unexpected shape.
    pub fn detect(&mut self, image: &RgbImage, config: &DetectConfig) -> Result<DetectorOutput> {
        let t0 = Instant::now();
        let image_hw = (image.height(), image.width());
        let geometry = self.geometry(image_hw, config);
        let canvas = letterbox_with(image, &geometry, crate::imageops::resize_rgb)?;
        let (h, w) = geometry.output_hw();
        let shape = [1, 3, h as usize, w as usize];
        let tensor = to_chw_unit(&canvas);
        let t1 = Instant::now();
        let outputs = self.session.run(&[(&self.input_name, &shape, &tensor)])?;
        let t2 = Instant::now();
        let output = outputs.into_iter().next().ok_or_else(|| Error::Model {
            path: self.weights.clone(),
            message: "model produced no output".into(),
        })?;
        let (rows, row_len, layout) = self.decode_layout(output.shape, output.data)?;
        let mut detections = non_max_suppression(&rows, row_len, layout, &config.nms);
        super::scale_boxes((h, w), &mut detections, image_hw);
        let t3 = Instant::now();
        Ok(DetectorOutput {
            detections,
            input_shape: shape,
            timings: Timings {
                preprocess_ms: ms(t1 - t0),
                inference_ms: ms(t2 - t1),
                nms_ms: ms(t3 - t2),
            },
        })
    }

    /// Works out whether the output is YOLOv5's `[1, rows, 5+nc]` or YOLOv8's `[1, 4+nc, rows]`
    /// (transposed here) and returns row-major rows.
    fn decode_layout(
        &self,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<(Vec<f32>, usize, RowLayout)> {
        let bad = |why: String| Error::Model {
            path: self.weights.clone(),
            message: why,
        };
        let [1, a, b] = shape[..] else {
            return Err(bad(format!(
                "expected detector output [1, rows, cols], got {shape:?}"
            )));
        };
        let nc = self.names.len();
        let v5 = if nc > 0 { b == nc + 5 } else { b < a };
        let v8 = if nc > 0 { a == nc + 4 } else { a < b };
        if v5 {
            Ok((data, b, RowLayout::WithObjectness))
        } else if v8 {
            let mut rows = vec![0.0f32; a * b];
            for (c, channel) in data.chunks_exact(b).enumerate() {
                for (r, &v) in channel.iter().enumerate() {
                    rows[r * a + c] = v;
                }
            }
            Ok((rows, a, RowLayout::ClassesOnly))
        } else {
            Err(bad(format!(
                "output {shape:?} fits neither YOLOv5 nor YOLOv8 layout for {nc} classes"
            )))
        }
    }
}

fn round_up(v: u32, stride: u32) -> u32 {
    v.div_ceil(stride.max(1)) * stride.max(1)
}

fn to_u32(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::InvalidInput(format!("dimension {v} too large")))
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Parses Ultralytics' `names` metadata, a Python dict literal such as
/// `{0: 'person', 1: 'bicycle'}`, into a list indexed by class id (empty when it is not one).
fn parse_names(text: &str) -> Vec<String> {
    emotic_weights::pylit::parse_names_dict(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ultralytics_names_metadata() {
        let names = parse_names("{0: 'person', 2: 'car', 1: \"traffic, light\"}");
        assert_eq!(names, vec!["person", "traffic, light", "car"]);
        assert!(parse_names("").is_empty());
    }

    #[test]
    fn input_sizes_round_up_to_stride() {
        assert_eq!(round_up(640, 32), 640);
        assert_eq!(round_up(641, 32), 672);
        assert_eq!(round_up(500, 64), 512);
    }
}
