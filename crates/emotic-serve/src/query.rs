//! A request's settings from its query string: the CLI's names and defaults (`conf`, `iou`,
//! `imgsz`, `max_det`, `classes`, `top_k`), checked by the same code as the CLI's flags.

use emotic::pipeline::PipelineConfig;
use emotic_predict::{DetectSettings, LabelStyle};

use crate::error::ApiError;

/// What one request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSettings {
    /// Detection settings and the classes that get emotions.
    pub pipeline: PipelineConfig,
    /// How labels on an annotated image look (`top_k`).
    pub style: LabelStyle,
    /// Answer with the annotated JPEG instead of the record.
    pub annotate: bool,
}

/// The parameters we know; anything else is refused, so a typo does not go unnoticed.
const KNOWN: &[&str] = &[
    "conf", "iou", "imgsz", "max_det", "classes", "top_k", "annotate",
];

/// Parses a query string (without the `?`). Lists (`imgsz`, `classes`) are comma-separated or
/// repeated.
///
/// # Errors
/// 400 naming the parameter and what it must be.
pub fn parse(query: Option<&str>) -> Result<RequestSettings, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_request("bad_query", format!("malformed query: {e}")))?;
    let mut detect = DetectSettings::default();
    let mut style = LabelStyle::default();
    let mut annotate = false;
    let mut imgsz: Vec<u32> = Vec::new();
    let mut classes: Vec<usize> = Vec::new();
    let mut saw_classes = false;
    for (name, value) in &pairs {
        let value = value.trim();
        match name.as_str() {
            "conf" => detect.conf = number(name, value)?,
            "iou" => detect.iou = number(name, value)?,
            "max_det" => detect.max_det = number(name, value)?,
            "top_k" => style.top_k = number(name, value)?,
            "imgsz" => imgsz.extend(list::<u32>(name, value)?),
            "classes" => {
                saw_classes = true;
                classes.extend(list::<usize>(name, value)?);
            }
            "annotate" => {
                annotate = match value {
                    "" | "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(invalid(name, value, "true or false")),
                }
            }
            _ => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    format!(
                        "unknown query parameter `{name}` (known: {})",
                        KNOWN.join(", ")
                    ),
                ));
            }
        }
    }
    if !imgsz.is_empty() {
        detect.imgsz = imgsz;
    }
    if saw_classes {
        detect.classes = Some(classes);
    }
    let detect = detect
        .to_config()
        .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?;
    Ok(RequestSettings {
        pipeline: PipelineConfig {
            detect,
            ..PipelineConfig::default()
        },
        style,
        annotate,
    })
}

fn invalid(name: &str, value: &str, wanted: &str) -> ApiError {
    ApiError::bad_request(
        "bad_query",
        format!("query parameter `{name}` must be {wanted}, got {value:?}"),
    )
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| invalid(name, value, "a number"))
}

fn list<T: std::str::FromStr>(name: &str, value: &str) -> Result<Vec<T>, ApiError> {
    value
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| invalid(name, value, "whole numbers separated by commas"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_clis() {
        let s = parse(None).unwrap();
        assert_eq!(
            s.pipeline.detect,
            DetectSettings::default().to_config().unwrap()
        );
        assert_eq!(s.style, LabelStyle::default());
        assert!(!s.annotate);
    }

    #[test]
    fn values_and_lists_are_read() {
        let s = parse(Some(
            "conf=0.5&iou=0.3&imgsz=320,480&max_det=7&classes=0&classes=2&top_k=1&annotate=true",
        ))
        .unwrap();
        let d = &s.pipeline.detect;
        assert_eq!((d.nms.conf_threshold, d.nms.iou_threshold), (0.5, 0.3));
        assert_eq!((d.imgsz, d.nms.max_det), ((320, 480), 7));
        assert_eq!(d.nms.classes, Some(vec![0, 2]));
        assert_eq!(s.style.top_k, 1);
        assert!(s.annotate);
    }

    #[test]
    fn bad_values_are_400_naming_the_parameter() {
        for (query, named) in [
            ("conf=abc", "conf"),
            ("conf=1.5", "conf"),
            ("iou=-1", "iou"),
            ("imgsz=0", "imgsz"),
            ("imgsz=1,2,3", "imgsz"),
            ("max_det=0", "max_det"),
            ("classes=x", "classes"),
            ("annotate=maybe", "annotate"),
            ("colour=red", "colour"),
        ] {
            let e = parse(Some(query)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{query}");
            assert!(e.detail.contains(named), "{query}: {}", e.detail);
        }
    }
}
