//! `--api-key`: `/v1/*` requires `Authorization: Bearer <key>`. Browsers cannot set headers
//! on a WebSocket, so `/v1/live` also takes the key as `?api_key=`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware for the `/v1` routes.
pub async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else {
        return next.run(request).await;
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let in_query = (request.uri().path() == "/v1/live")
        .then(|| request.uri().query())
        .flatten()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "api_key")
                .map(|(_, v)| v)
        });
    let given = bearer.map(str::to_string).or(in_query);
    match given {
        Some(given) if same(given.as_bytes(), key.as_bytes()) => next.run(request).await,
        Some(_) => unauthorized("the API key is wrong"),
        None => unauthorized("this server needs an API key: send `Authorization: Bearer <key>`"),
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Compares in time that depends only on the lengths, so the key cannot be guessed byte by
/// byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_compare_exactly() {
        assert!(super::same(b"secret", b"secret"));
        assert!(!super::same(b"secret", b"secreT"));
        assert!(!super::same(b"secret", b"secret2"));
    }
}
