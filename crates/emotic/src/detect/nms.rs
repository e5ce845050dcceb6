//! YOLOv5's `non_max_suppression`, for one image, best class only.

/// One detection in letterboxed-input pixels or, after [`super::scale_boxes`], in the original
/// image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// `objectness × class probability` (YOLOv5) or the class probability (YOLOv8 layout).
    pub confidence: f32,
    /// Index into the model's class names.
    pub class_id: usize,
}

/// NMS settings, with `detect.py`'s defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NmsConfig {
    /// Minimum confidence (`--conf-thres`).
    pub conf_threshold: f32,
    /// IoU above which the lower-scoring box is suppressed (`--iou-thres`).
    pub iou_threshold: f32,
    /// Most detections kept per image (`--max-det`).
    pub max_det: usize,
    /// Keep only these classes (`--classes`); `None` keeps all.
    pub classes: Option<Vec<usize>>,
    /// Suppress across classes (`--agnostic-nms`).
    pub agnostic: bool,
}

impl NmsConfig {
    /// `--conf-thres` default.
    pub const DEFAULT_CONF: f32 = 0.25;
    /// `--iou-thres` default.
    pub const DEFAULT_IOU: f32 = 0.45;
    /// `--max-det` default.
    pub const DEFAULT_MAX_DET: usize = 1000;
    /// YOLOv5 caps the boxes entering NMS.
    const MAX_NMS: usize = 30_000;
    /// Class offset that separates classes in one NMS pass (YOLOv5's `max_wh`).
    const MAX_WH: f32 = 7680.0;
}

impl Default for NmsConfig {
    fn default() -> Self {
        Self {
            conf_threshold: Self::DEFAULT_CONF,
            iou_threshold: Self::DEFAULT_IOU,
            max_det: Self::DEFAULT_MAX_DET,
            classes: None,
            agnostic: false,
        }
    }
}

/// How each row of the raw model output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLayout {
    /// `[cx, cy, w, h, objectness, class probabilities...]` (YOLOv5).
    WithObjectness,
    /// `[cx, cy, w, h, class probabilities...]` (YOLOv8 / YOLO11, after transposing).
    ClassesOnly,
}

/// Runs NMS over `rows` (`row_len` values each) and returns detections sorted by confidence,
/// highest first.
///
/// Equal confidences keep their row order (a stable sort), so the result is deterministic where
/// PyTorch's unstable sort leaves ties unspecified.
#[must_use]
pub fn non_max_suppression(
    rows: &[f32],
    row_len: usize,
    layout: RowLayout,
    config: &NmsConfig,
) -> Vec<Detection> {
    let first_class = match layout {
        RowLayout::WithObjectness => 5,
        RowLayout::ClassesOnly => 4,
    };
    if row_len <= first_class {
        return Vec::new();
    }
    let mut candidates: Vec<Detection> = Vec::new();
    for row in rows.chunks_exact(row_len) {
        let objectness = match layout {
            RowLayout::WithObjectness => {
                // YOLOv5 drops rows by objectness before multiplying.
                if row[4] <= config.conf_threshold {
                    continue;
                }
                row[4]
            }
            RowLayout::ClassesOnly => 1.0,
        };
        // Best class; the first index wins ties, as torch.max does on CPU.
        let mut class_id = 0;
        let mut best = f32::NEG_INFINITY;
        for (c, &p) in row[first_class..].iter().enumerate() {
            let conf = p * objectness;
            if conf > best {
                best = conf;
                class_id = c;
            }
        }
        if best <= config.conf_threshold {
            continue;
        }
        if let Some(classes) = &config.classes
            && !classes.contains(&class_id)
        {
            continue;
        }
        let (cx, cy, w, h) = (row[0], row[1], row[2], row[3]);
        let bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
        candidates.push(Detection {
            bbox,
            confidence: best,
            class_id,
        });
    }
    candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    candidates.truncate(NmsConfig::MAX_NMS);

    let offset = |d: &Detection| {
        if config.agnostic {
            0.0
        } else {
            // Precision: class ids are small, exact in f32.
            #[allow(clippy::cast_precision_loss)]
            let c = d.class_id as f32;
            c * NmsConfig::MAX_WH
        }
    };
    let shifted: Vec<[f32; 4]> = candidates
        .iter()
        .map(|d| {
            let o = offset(d);
            [d.bbox[0] + o, d.bbox[1] + o, d.bbox[2] + o, d.bbox[3] + o]
        })
        .collect();
    let mut suppressed = vec![false; candidates.len()];
    let mut kept = Vec::new();
    for i in 0..candidates.len() {
        if suppressed[i] {
            continue;
        }
        kept.push(candidates[i]);
        if kept.len() == config.max_det {
            break;
        }
        for j in i + 1..candidates.len() {
            if !suppressed[j] && iou(&shifted[i], &shifted[j]) > config.iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    kept
}

/// Intersection over union of two `xyxy` boxes, as `torchvision.ops.box_iou` computes it (0 when
/// the union is empty). NMS and the tracker ([`crate::tracking`]) both use it.
#[must_use]
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A YOLOv5 row with 3 classes.
    fn row(cx: f32, cy: f32, w: f32, h: f32, obj: f32, cls: [f32; 3]) -> Vec<f32> {
        let mut r = vec![cx, cy, w, h, obj];
        r.extend(cls);
        r
    }

    fn run(rows: &[Vec<f32>], config: &NmsConfig) -> Vec<Detection> {
        let flat: Vec<f32> = rows.concat();
        non_max_suppression(&flat, 8, RowLayout::WithObjectness, config)
    }

    #[test]
    fn zero_boxes_give_nothing() {
        assert!(run(&[], &NmsConfig::default()).is_empty());
        // Everything under the threshold.
        let rows = [row(10., 10., 4., 4., 0.2, [0.9, 0., 0.])];
        assert!(run(&rows, &NmsConfig::default()).is_empty());
    }

    #[test]
    fn confidence_is_objectness_times_class_and_thresholded_strictly() {
        let rows = [
            row(10., 10., 4., 4., 0.5, [0.5, 0.1, 0.]), // 0.25: not kept (> is strict)
            row(50., 50., 4., 4., 0.8, [0.1, 0.5, 0.]), // 0.40, class 1
        ];
        let dets = run(&rows, &NmsConfig::default());
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class_id, 1);
        assert!((dets[0].confidence - 0.4).abs() < 1e-6);
        assert_eq!(dets[0].bbox, [48., 48., 52., 52.]);
    }

    #[test]
    fn overlapping_boxes_of_one_class_are_suppressed_but_not_across_classes() {
        let rows = [
            row(10., 10., 10., 10., 0.9, [0.9, 0., 0.]),
            row(11., 10., 10., 10., 0.9, [0.8, 0., 0.]), // IoU 0.818 with the first
            row(11., 10., 10., 10., 0.9, [0., 0.7, 0.]), // other class: kept
        ];
        let dets = run(&rows, &NmsConfig::default());
        assert_eq!(
            dets.iter().map(|d| d.class_id).collect::<Vec<_>>(),
            vec![0, 1]
        );
        let agnostic = run(
            &rows,
            &NmsConfig {
                agnostic: true,
                ..NmsConfig::default()
            },
        );
        assert_eq!(agnostic.len(), 1);
    }

    #[test]
    fn identical_scores_keep_row_order() {
        let rows = [
            row(10., 10., 4., 4., 1.0, [0.6, 0., 0.]),
            row(100., 10., 4., 4., 1.0, [0.6, 0., 0.]),
            row(200., 10., 4., 4., 1.0, [0.6, 0., 0.]),
        ];
        let dets = run(&rows, &NmsConfig::default());
        let xs: Vec<f32> = dets.iter().map(|d| d.bbox[0]).collect();
        assert_eq!(xs, vec![8., 98., 198.]);
        // Two identical boxes with identical scores: exactly one survives, the first.
        let rows = [
            row(10., 10., 4., 4., 1.0, [0.6, 0., 0.]),
            row(10., 10., 4., 4., 1.0, [0.6, 0., 0.]),
        ];
        assert_eq!(run(&rows, &NmsConfig::default()).len(), 1);
    }

    #[test]
    fn class_filter_and_max_det() {
        let rows: Vec<Vec<f32>> = (0..10u8)
            .map(|i| {
                let x = f32::from(i) * 100.0;
                let cls = if i % 2 == 0 {
                    [0.9, 0., 0.]
                } else {
                    [0., 0., 0.9]
                };
                row(x, 10., 4., 4., 0.5 + f32::from(i) / 100.0, cls)
            })
            .collect();
        let only2 = run(
            &rows,
            &NmsConfig {
                classes: Some(vec![2]),
                ..NmsConfig::default()
            },
        );
        assert_eq!(only2.len(), 5);
        assert!(only2.iter().all(|d| d.class_id == 2));
        let capped = run(
            &rows,
            &NmsConfig {
                max_det: 3,
                ..NmsConfig::default()
            },
        );
        assert_eq!(capped.len(), 3);
        // The three best: rows 9, 8, 7.
        assert_eq!(
            capped.iter().map(|d| d.bbox[0] as i32).collect::<Vec<_>>(),
            vec![898, 798, 698]
        );
    }

    #[test]
    fn iou_of_known_boxes() {
        assert!(
            (iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 50.0 / 150.0).abs() < 1e-6
        );
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 30.0, 30.0]), 0.0);
        assert_eq!(iou(&[0.0; 4], &[0.0; 4]), 0.0);
        assert_eq!(iou(&[1.0, 1.0, 5.0, 5.0], &[1.0, 1.0, 5.0, 5.0]), 1.0);
    }

    #[test]
    fn iou_threshold_is_strict() {
        // Two 10x10 boxes shifted so that IoU = 50/150 = 1/3.
        let a = [0., 0., 10., 10.];
        let b = [5., 0., 15., 10.];
        assert!((iou(&a, &b) - 1.0 / 3.0).abs() < 1e-6);
        let rows = [
            row(5., 5., 10., 10., 1.0, [0.9, 0., 0.]),
            row(10., 5., 10., 10., 1.0, [0.8, 0., 0.]),
        ];
        let kept = run(
            &rows,
            &NmsConfig {
                iou_threshold: 0.34,
                ..NmsConfig::default()
            },
        );
        assert_eq!(kept.len(), 2);
        let kept = run(
            &rows,
            &NmsConfig {
                iou_threshold: 0.33,
                ..NmsConfig::default()
            },
        );
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn classes_only_layout() {
        let flat = vec![10., 10., 4., 4., 0.1, 0.7, 50., 50., 4., 4., 0.2, 0.1];
        let dets = non_max_suppression(&flat, 6, RowLayout::ClassesOnly, &NmsConfig::default());
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class_id, 1);
        assert!((dets[0].confidence - 0.7).abs() < 1e-6);
    }
}
