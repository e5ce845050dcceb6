//! The HTTP transfer into `<name>.part`, resumed with `Range` requests and retried.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::Fetcher;
use crate::error::{Error, Result, io};

/// How one request ended, when it did not complete the file.
enum Failure {
    /// Retrying cannot help (a 404, a local write error, an oversized body).
    Fatal(Error),
    /// Worth another request (network error, 5xx, connection closed early); the bytes written
    /// so far stay in the part file and the next request resumes after them.
    Retry(String),
}

fn fatal_io(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::Fatal(io(path)(e))
}

/// Fills `part` with the whole file from `url`. `limit` is the file's size when `exact`, else
/// an upper bound.
pub(crate) fn download(
    fetcher: &Fetcher,
    url: &str,
    part: &Path,
    limit: u64,
    exact: bool,
) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        // Statuses are handled below (206, 416 and 5xx each mean something different).
        .http_status_as_error(false)
        .timeout_connect(Some(fetcher.timeout))
        .timeout_recv_response(Some(fetcher.timeout))
        .timeout_recv_body(None)
        .timeout_per_read(Some(fetcher.timeout))
        .user_agent(concat!("emotic-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let bar = progress_bar(fetcher.progress, exact.then_some(limit), url);
    let attempts = fetcher.attempts.max(1);
    let mut delay = fetcher.retry_delay;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match request(&agent, url, part, limit, exact, &bar) {
            Ok(()) => {
                bar.finish_and_clear();
                return Ok(());
            }
            Err(Failure::Fatal(e)) => {
                bar.abandon();
                return Err(e);
            }
            Err(Failure::Retry(why)) => {
                tracing::warn!("{url}: {why} (attempt {attempt} of {attempts})");
                last = why;
                if attempt < attempts {
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }
    bar.abandon();
    Err(Error::Network {
        url: url.to_owned(),
        attempts,
        last,
    })
}

fn progress_bar(show: bool, total: Option<u64>, url: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(url.rsplit('/').next().unwrap_or(url).to_owned());
    bar
}

/// One GET, resuming after the bytes already in `part`.
fn request(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    limit: u64,
    exact: bool,
    bar: &ProgressBar,
) -> std::result::Result<(), Failure> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .map_err(fatal_io(part))?;
    let mut offset = file.metadata().map_err(fatal_io(part))?.len();
    if offset > limit {
        file.set_len(0).map_err(fatal_io(part))?;
        offset = 0;
    }
    if exact && offset == limit {
        // Complete from an earlier run; the caller checks the digest.
        return Ok(());
    }
    // Ranges count stored bytes, so no content encoding.
    let mut req = agent.get(url).header("Accept-Encoding", "identity");
    if offset > 0 {
        req = req.header("Range", format!("bytes={offset}-"));
    }
    let response = req.call().map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let announced = match status {
        200 => header("content-length").and_then(|v| v.trim().parse().ok()),
        206 => header("content-range").as_deref().and_then(range_total),
        _ => None,
    };
    if let Some(announced) = announced
        && exact
        && announced != limit
    {
        drop(file);
        std::fs::remove_file(part).map_err(fatal_io(part))?;
        return Err(Failure::Fatal(Error::SizeMismatch {
            url: url.to_owned(),
            expected: limit,
            announced,
        }));
    }
    match status {
        206 => {
            let start = header("content-range").as_deref().and_then(range_start);
            if start != Some(offset) {
                file.set_len(0).map_err(fatal_io(part))?;
                return Err(Failure::Retry(format!(
                    "asked to resume at byte {offset}, the server sent {start:?}; starting over"
                )));
            }
        }
        200 if offset > 0 => {
            // The server ignores ranges and sends the whole file: start over.
            file.set_len(0).map_err(fatal_io(part))?;
            offset = 0;
        }
        200 => {}
        416 => {
            file.set_len(0).map_err(fatal_io(part))?;
            return Err(Failure::Retry(format!(
                "the server refused to resume at byte {offset}; starting over"
            )));
        }
        408 | 429 | 500..=599 => return Err(Failure::Retry(format!("HTTP {status}"))),
        _ => {
            return Err(Failure::Fatal(Error::Status {
                url: url.to_owned(),
                status,
            }));
        }
    }
    bar.set_position(offset);
    let reader = response.into_body().into_reader();
    copy_body(reader, &mut file, part, offset, limit, url, bar)?;
    let written = file.metadata().map_err(fatal_io(part))?.len();
    if exact && written < limit {
        return Err(Failure::Retry(format!(
            "connection closed after {written} of {limit} bytes"
        )));
    }
    Ok(())
}

fn copy_body(
    mut reader: impl Read,
    file: &mut File,
    part: &Path,
    mut pos: u64,
    limit: u64,
    url: &str,
    bar: &ProgressBar,
) -> std::result::Result<(), Failure> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Retry(format!(
                    "transfer interrupted after {pos} bytes: {e}"
                )));
            }
        };
        if pos + n as u64 > limit {
            std::fs::remove_file(part).map_err(fatal_io(part))?;
            return Err(Failure::Fatal(Error::TooLarge {
                url: url.to_owned(),
                expected: limit,
            }));
        }
        file.write_all(&buf[..n]).map_err(fatal_io(part))?;
        pos += n as u64;
        bar.set_position(pos);
    }
}

/// First byte of `Content-Range: bytes <first>-<last>/<total>`.
fn range_start(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// Total size in `Content-Range: bytes <first>-<last>/<total>` (None for `*`).
fn range_total(value: &str) -> Option<u64> {
    value.rsplit('/').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{range_start, range_total};

    #[test]
    fn content_range_start() {
        assert_eq!(range_start("bytes 100-999/1000"), Some(100));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("bytes */1000"), None);
        assert_eq!(range_start("items 1-2/3"), None);
        assert_eq!(range_total("bytes 100-999/1000"), Some(1000));
        assert_eq!(range_total("bytes 100-999/*"), None);
    }
}
