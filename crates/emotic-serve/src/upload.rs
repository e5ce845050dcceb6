//! Reading the image(s) of a request: a raw body (`image/jpeg`, `image/png`, ... or
//! `application/octet-stream`) or `multipart/form-data` fields named `file`, within
//! `--max-body`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use crate::error::ApiError;
use crate::state::AppState;

/// One uploaded image, still encoded.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its name in records: the multipart file name, else `upload`.
    pub name: String,
    /// The encoded bytes.
    pub bytes: Bytes,
}

/// The multipart field that holds an image.
const FIELD: &str = "file";

/// Reads the images of a request: exactly one unless `many`.
///
/// # Errors
/// 413 over the body limit; 415 for a content type that is not an image; 400 for an empty
/// body, a multipart request without a `file` field, or several where one is expected.
pub async fn read(state: &AppState, request: Request, many: bool) -> Result<Vec<Upload>, ApiError> {
    let limit = state.limits.max_body;
    // Refuse at once what says it is too large, without reading it.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let uploads = if content_type.starts_with("multipart/form-data") {
        multipart(state, request).await?
    } else if many {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a batch is multipart/form-data with one `file` field per image",
        ));
    } else {
        vec![raw(request, &content_type, limit).await?]
    };
    if uploads.is_empty() {
        return Err(ApiError::bad_request(
            "missing_file",
            format!("the multipart body has no `{FIELD}` field"),
        ));
    }
    if !many && uploads.len() > 1 {
        return Err(ApiError::bad_request(
            "too_many_files",
            "one image per request here; send several to /v1/predict/batch",
        ));
    }
    if let Some(empty) = uploads.iter().find(|u| u.bytes.is_empty()) {
        return Err(empty_body(&empty.name));
    }
    Ok(uploads)
}

fn empty_body(name: &str) -> ApiError {
    ApiError::bad_request(
        "empty_body",
        format!("{name}: no image data (the body is empty)"),
    )
}

async fn raw(request: Request, content_type: &str, limit: usize) -> Result<Upload, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    // No content type at all is allowed (the bytes are sniffed); a type that is not an image
    // is refused before reading the body.
    if !(media.is_empty() || media.starts_with("image/") || media == "application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type {media:?} is not an image; send image/jpeg, image/png, ... or multipart/form-data with a `{FIELD}` field"
            ),
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::body_too_large(limit))?;
    Ok(Upload {
        name: "upload".into(),
        bytes,
    })
}

async fn multipart(state: &AppState, request: Request) -> Result<Vec<Upload>, ApiError> {
    let limit = state.limits.max_body;
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
    let mut uploads = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(&e, limit)),
        };
        if field.name() != Some(FIELD) {
            continue;
        }
        let name = field
            .file_name()
            .filter(|n| !n.is_empty())
            .unwrap_or("upload")
            .to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(&e, limit))?;
        uploads.push(Upload { name, bytes });
    }
    Ok(uploads)
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::body_too_large(limit)
    } else {
        ApiError::bad_request("bad_multipart", e.body_text())
    }
}
