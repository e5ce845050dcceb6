//! Object detection with YOLO models: YOLOv5's letterbox, NMS and box scaling, and the
//! [`Detector`] that ties them to an ONNX Runtime session.

mod detector;
pub mod letterbox;
pub mod nms;

pub use detector::{DetectConfig, Detector, DetectorOutput, Timings};
pub use letterbox::{LetterboxGeometry, PadMode};
pub use nms::{Detection, NmsConfig, RowLayout, iou, non_max_suppression};

/// Maps boxes from letterboxed-input pixels back to the original image and clips them to it,
/// like YOLOv5's `scale_boxes` (the gain and padding are recomputed from the two shapes, as
/// there, rather than taken from the rounded padding split).
pub fn scale_boxes(input_hw: (u32, u32), detections: &mut [Detection], image_hw: (u32, u32)) {
    let (ih, iw) = (f64::from(input_hw.0), f64::from(input_hw.1));
    let (oh, ow) = (f64::from(image_hw.0), f64::from(image_hw.1));
    let gain = (ih / oh).min(iw / ow);
    let pad_x = (iw - ow * gain) / 2.0;
    let pad_y = (ih - oh * gain) / 2.0;
    for d in detections {
        let b = &mut d.bbox;
        let map = |v: f32, pad: f64, max: f64| {
            #[allow(clippy::cast_possible_truncation)]
            let scaled = ((f64::from(v) - pad) / gain).clamp(0.0, max) as f32;
            scaled
        };
        b[0] = map(b[0], pad_x, ow);
        b[1] = map(b[1], pad_y, oh);
        b[2] = map(b[2], pad_x, ow);
        b[3] = map(b[3], pad_y, oh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_boxes_undoes_letterbox_and_clips() {
        // zidane: 720x1280 -> 384x640, gain 0.5, pad_y 12.
        let mut d = [Detection {
            bbox: [100.0, 12.0, 700.0, 400.0],
            confidence: 0.9,
            class_id: 0,
        }];
        scale_boxes((384, 640), &mut d, (720, 1280));
        assert_eq!(d[0].bbox, [200.0, 0.0, 1280.0, 720.0]);
        let mut d = [Detection {
            bbox: [-4.0, 22.0, 50.0, 62.0],
            confidence: 0.9,
            class_id: 0,
        }];
        scale_boxes((384, 640), &mut d, (720, 1280));
        assert_eq!(d[0].bbox, [0.0, 20.0, 100.0, 100.0]);
    }
}
