//! The downloader against a scripted HTTP server on 127.0.0.1 (the tests have no internet).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emotic_fetch::{Artifact, Error, Fetcher, sha256_file};
use sha2::{Digest, Sha256};

/// What the server does for one request (the last plan repeats).
#[derive(Debug, Clone)]
enum Plan {
    /// Serve the file, honouring `Range`.
    Serve,
    /// Announce the whole (remaining) length, send only this many bytes, then hang up.
    CutAfter(usize),
    /// Answer 200 with the whole file whatever the `Range`.
    IgnoreRange,
    /// Answer with this status and no body.
    Status(u16),
    /// Serve these bytes instead of the file.
    Other(Vec<u8>),
    /// Serve the file twice over, without `Content-Length` (the end is the hang-up).
    Unannounced,
    /// Serve the file in 10 pieces 30 ms apart, so concurrent fetchers overlap.
    Slow,
}

/// Each request's path and `Range` header (None when absent).
type RequestLog = Mutex<Vec<(String, Option<String>)>>;

struct Server {
    base: String,
    log: Arc<RequestLog>,
}

impl Server {
    fn start(body: Vec<u8>, plans: Vec<Plan>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let plan = plans
                    .get(i)
                    .or(plans.last())
                    .cloned()
                    .unwrap_or(Plan::Serve);
                let _ = answer(stream, &body, &plan, &seen);
            }
        });
        Self { base, log }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn ranges(&self) -> Vec<Option<String>> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

fn answer(
    mut stream: TcpStream,
    body: &[u8],
    plan: &Plan,
    log: &RequestLog,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut range = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_owned());
        }
    }
    log.lock().unwrap().push((path, range.clone()));
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let send = |stream: &mut TcpStream, status: &str, extra: &str, data: &[u8], announce: usize| {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {announce}\r\n{extra}Connection: close\r\n\r\n"
        )?;
        stream.write_all(data)?;
        stream.flush()
    };
    match plan {
        Plan::Status(code) => send(&mut stream, &format!("{code} Nope"), "", &[], 0),
        Plan::Other(bytes) => send(&mut stream, "200 OK", "", bytes, bytes.len()),
        Plan::IgnoreRange => send(&mut stream, "200 OK", "", body, body.len()),
        Plan::Unannounced => {
            write!(stream, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            stream.write_all(body)?;
            stream.write_all(body)
        }
        Plan::Slow => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            for piece in body.chunks(body.len().div_ceil(10)) {
                stream.write_all(piece)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(30));
            }
            Ok(())
        }
        Plan::Serve | Plan::CutAfter(_) => {
            let from = start.unwrap_or(0);
            if from >= body.len() {
                return send(&mut stream, "416 Range Not Satisfiable", "", &[], 0);
            }
            let rest = &body[from..];
            let (status, extra) = match start {
                Some(s) => (
                    "206 Partial Content",
                    format!(
                        "Content-Range: bytes {s}-{}/{}\r\n",
                        body.len() - 1,
                        body.len()
                    ),
                ),
                None => ("200 OK", String::new()),
            };
            let cut = match plan {
                Plan::CutAfter(n) => (*n).min(rest.len()),
                _ => rest.len(),
            };
            send(&mut stream, status, &extra, &rest[..cut], rest.len())?;
            stream.shutdown(std::net::Shutdown::Both)
        }
    }
}

/// 300,000 bytes that are not all alike, so offsets matter.
fn payload() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fetcher(cache: &Path) -> Fetcher {
    let mut f = Fetcher::new(cache.to_path_buf());
    f.also_look_in.clear(); // never the developer's real torch cache
    f.attempts = 3;
    f.retry_delay = Duration::ZERO;
    f.timeout = Duration::from_secs(10);
    f
}

struct Case {
    body: Vec<u8>,
    digest: String,
    url: String,
    server: Server,
    cache: tempfile::TempDir,
}

impl Case {
    fn new(plans: Vec<Plan>) -> Self {
        let body = payload();
        let digest = hex_sha256(&body);
        let server = Server::start(body.clone(), plans);
        let url = server.url("weights.pth");
        Self {
            body,
            digest,
            url,
            server,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn artifact(&self) -> Artifact<'_> {
        Artifact {
            file_name: "weights.pth",
            url: &self.url,
            sha256: &self.digest,
            size: Some(self.body.len() as u64),
        }
    }

    fn fetch(&self) -> emotic_fetch::Result<std::path::PathBuf> {
        fetcher(self.cache.path()).fetch(&self.artifact())
    }

    fn part(&self) -> std::path::PathBuf {
        self.cache.path().join("weights.pth.part")
    }
}

#[test]
fn downloads_verifies_and_renames_into_the_cache() {
    let case = Case::new(vec![Plan::Serve]);
    let path = case.fetch().unwrap();
    assert_eq!(path, case.cache.path().join("weights.pth"));
    assert_eq!(std::fs::read(&path).unwrap(), case.body);
    assert!(!case.part().exists());
    assert_eq!(case.server.ranges(), vec![None]);
    assert_eq!(case.server.log.lock().unwrap()[0].0, "/weights.pth");
}

#[test]
fn a_dropped_connection_resumes_where_it_stopped() {
    let case = Case::new(vec![
        Plan::CutAfter(100_000),
        Plan::CutAfter(70_000),
        Plan::Serve,
    ]);
    let path = case.fetch().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), case.body);
    assert_eq!(
        case.server.ranges(),
        vec![
            None,
            Some("bytes=100000-".to_owned()),
            Some("bytes=170000-".to_owned())
        ]
    );
}

#[test]
fn a_partial_file_from_an_earlier_run_is_continued() {
    let case = Case::new(vec![Plan::Serve]);
    std::fs::write(case.part(), &case.body[..123_456]).unwrap();
    let path = case.fetch().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), case.body);
    assert_eq!(case.server.ranges(), vec![Some("bytes=123456-".to_owned())]);
}

#[test]
fn a_complete_partial_file_needs_no_request() {
    let case = Case::new(vec![Plan::Serve]);
    std::fs::write(case.part(), &case.body).unwrap();
    case.fetch().unwrap();
    assert!(case.server.ranges().is_empty());
}

#[test]
fn a_server_without_ranges_sends_everything_again() {
    let case = Case::new(vec![Plan::IgnoreRange]);
    std::fs::write(case.part(), &case.body[..50_000]).unwrap();
    let path = case.fetch().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), case.body);
    assert_eq!(case.server.ranges(), vec![Some("bytes=50000-".to_owned())]);
}

#[test]
fn wrong_bytes_are_refused_and_removed() {
    let mut wrong = payload();
    wrong[1234] ^= 1;
    let case = Case::new(vec![Plan::Other(wrong.clone())]);
    let err = case.fetch().unwrap_err();
    match &err {
        Error::Checksum {
            expected, actual, ..
        } => {
            assert_eq!(expected, &case.digest);
            assert_eq!(actual, &hex_sha256(&wrong));
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(err.to_string().contains("sha256 mismatch"), "{err}");
    assert!(!case.part().exists());
    assert!(!case.cache.path().join("weights.pth").exists());
}

#[test]
fn a_corrupt_partial_file_is_not_trusted() {
    // The part file holds wrong bytes: resuming after them yields a file with the wrong
    // digest, which is removed, and the next fetch downloads it whole.
    let case = Case::new(vec![Plan::Serve]);
    std::fs::write(case.part(), vec![0u8; 1000]).unwrap();
    assert!(matches!(case.fetch(), Err(Error::Checksum { .. })));
    assert!(!case.part().exists());
    let path = case.fetch().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), case.body);
    assert_eq!(
        case.server.ranges(),
        vec![Some("bytes=1000-".to_owned()), None]
    );
}

#[test]
fn a_verified_cached_file_is_used_without_a_request() {
    let case = Case::new(vec![Plan::Serve]);
    std::fs::write(case.cache.path().join("weights.pth"), &case.body).unwrap();
    case.fetch().unwrap();
    assert!(case.server.ranges().is_empty());
}

#[test]
fn a_damaged_cached_file_is_downloaded_again() {
    let case = Case::new(vec![Plan::Serve]);
    let cached = case.cache.path().join("weights.pth");
    let mut damaged = case.body.clone();
    damaged[7] ^= 0xff;
    std::fs::write(&cached, damaged).unwrap();
    case.fetch().unwrap();
    assert_eq!(std::fs::read(cached).unwrap(), case.body);
    assert_eq!(case.server.ranges(), vec![None]);
}

#[test]
fn a_copy_in_another_folder_is_used_in_place() {
    let case = Case::new(vec![Plan::Serve]);
    let torch_hub = tempfile::tempdir().unwrap();
    let copy = torch_hub.path().join("weights.pth");
    std::fs::write(&copy, &case.body).unwrap();
    let mut f = fetcher(case.cache.path());
    f.also_look_in = vec![torch_hub.path().to_path_buf()];
    assert_eq!(f.fetch(&case.artifact()).unwrap(), copy);
    assert!(case.server.ranges().is_empty());
    // A copy with other bytes is ignored.
    std::fs::write(&copy, b"not it").unwrap();
    assert_eq!(
        f.fetch(&case.artifact()).unwrap(),
        case.cache.path().join("weights.pth")
    );
}

#[test]
fn server_errors_are_retried_and_not_found_is_not() {
    let case = Case::new(vec![Plan::Status(503), Plan::Serve]);
    case.fetch().unwrap();
    assert_eq!(case.server.ranges().len(), 2);

    let case = Case::new(vec![Plan::Status(404)]);
    let err = case.fetch().unwrap_err();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err}");
    assert_eq!(case.server.ranges().len(), 1);
}

#[test]
fn persistent_failures_stop_after_the_attempts() {
    let case = Case::new(vec![Plan::Status(500)]);
    let err = case.fetch().unwrap_err();
    assert!(matches!(err, Error::Network { attempts: 3, .. }), "{err}");
    assert_eq!(case.server.ranges().len(), 3);
}

#[test]
fn a_file_of_another_size_is_refused_before_downloading() {
    let mut longer = payload();
    longer.extend_from_slice(b"extra");
    let case = Case::new(vec![Plan::Other(longer)]);
    let err = case.fetch().unwrap_err();
    match err {
        Error::SizeMismatch {
            expected,
            announced,
            ..
        } => assert_eq!((expected, announced), (300_000, 300_005)),
        other => panic!("expected a size mismatch, got {other}"),
    }
    assert!(!case.part().exists());
    assert_eq!(case.server.ranges().len(), 1, "not retried");
}

#[test]
fn more_bytes_than_published_are_refused_when_the_size_is_not_announced() {
    let case = Case::new(vec![Plan::Unannounced]);
    let mut f = fetcher(case.cache.path());
    f.attempts = 1;
    let err = f.fetch(&case.artifact()).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(!case.part().exists());
}

#[test]
fn an_unreachable_server_is_a_clear_network_error() {
    // Bind and drop a listener so the port is (almost certainly) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/weights.pth");
    let artifact = Artifact {
        file_name: "weights.pth",
        url: &url,
        sha256: "00",
        size: Some(10),
    };
    let err = fetcher(cache.path()).fetch(&artifact).unwrap_err();
    assert!(matches!(err, Error::Network { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn a_mirror_replaces_the_official_location() {
    let case = Case::new(vec![Plan::Serve]);
    let artifact = Artifact {
        url: "https://invalid.example/official/weights.pth",
        ..case.artifact()
    };
    let mut f = fetcher(case.cache.path());
    f.mirror = Some(format!("{}/", case.server.base));
    assert_eq!(f.url_of(&artifact), case.url);
    f.fetch(&artifact).unwrap();
    assert_eq!(case.server.ranges(), vec![None]);
}

#[test]
fn sha256_of_a_known_vector() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("abc");
    std::fs::write(&p, b"abc").unwrap();
    assert_eq!(
        sha256_file(&p).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn concurrent_fetches_of_one_file_download_it_once() {
    // Two fetchers race on one cache: without the lock both would append to weights.pth.part.
    let case = Case::new(vec![Plan::Slow]);
    let start = std::sync::Barrier::new(2);
    let paths: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    case.fetch()
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for path in paths {
        let path = path.unwrap();
        assert_eq!(path, case.cache.path().join("weights.pth"));
        assert_eq!(sha256_file(&path).unwrap(), case.digest);
    }
    assert_eq!(case.server.ranges(), vec![None], "one full download");
    assert!(!case.part().exists());
}
