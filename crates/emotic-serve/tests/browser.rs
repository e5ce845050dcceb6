//! The web page in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver), spoken as the W3C protocol's JSON over reqwest. (A WebDriver client crate
//! would pull ICU 1.x through `webdriver`, change `syn`'s features and rebuild every
//! procedural macro of the workspace; the six commands used here are a few lines each.) An uploaded fixture gets one card per person; live mode, fed by Chromium's
//! fake camera from a clip made with ffmpeg, draws overlays for many frames. Screenshots go
//! to `$EMOTIC_SCREENSHOTS` (default: a folder in the system's temp dir) to be looked at.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Frames of live mode that must have had overlays drawn.
const LIVE_FRAMES: u64 = 8;

/// Whether a program is installed (required under `CI=true`): it answers its version flag
/// (`--version`, or ffmpeg's `-version`).
fn installed(program: &str, version_flag: &str) -> bool {
    let ok = Command::new(program)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "{program} is missing in CI (scripts/setup.sh installs it)"
    );
    if !ok {
        eprintln!("skipping: {program} is not installed (scripts/setup.sh installs it)");
    }
    ok
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Y4M clip (Chromium's fake camera reads 4:2:0 Y4M) of the photo panning slowly.
fn make_clip(image: &Path, dir: &Path) -> PathBuf {
    let clip = dir.join("clip.y4m");
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-loop",
            "1",
            "-i",
        ])
        .arg(image)
        .args([
            "-t",
            "3",
            "-r",
            "10",
            "-vf",
            "scale=640:360,crop=600:340:4*n/10:2*n/10,scale=640:360",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    clip
}

/// One WebDriver session.
struct Client {
    http: reqwest::Client,
    session: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/{path}", self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"]["error"].is_null(), "{path}: {answer}");
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "url", Some(json!({ "url": url })))
            .await;
    }

    async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The WebDriver element reference of the first match of a CSS selector.
    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element for {css}: {found}"))
            .to_string()
    }

    async fn send_keys(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn set_window_size(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "screenshot", None).await;
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap()
    }

    async fn close(&self) {
        self.http.delete(&self.session).send().await.unwrap();
    }
}

async fn browser(port: u16, clip: &Path) -> Client {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-dev-shm-usage".to_string(),
        "--window-size=1200,1600".to_string(),
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--use-file-for-fake-video-capture={}", clip.display()),
    ];
    let capabilities = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
    } } });
    let http = common::client();
    let webdriver = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen after it starts.
    for _ in 0..100 {
        let Ok(response) = http
            .post(format!("{webdriver}/session"))
            .json(&capabilities)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let answer: Value = response.json().await.unwrap();
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"));
        return Client {
            session: format!("{webdriver}/session/{id}"),
            http,
        };
    }
    panic!("chromedriver did not start");
}

/// Evaluates `script` (which returns a number) until it is at least `at_least`. The bound on
/// tries only keeps a broken page from hanging the test; it is not a speed requirement.
async fn wait_for(client: &Client, script: &str, at_least: f64) -> f64 {
    for _ in 0..1200 {
        let value = client.execute(script).await;
        if let Some(v) = value.as_f64().filter(|v| *v >= at_least) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never reached {at_least} for {script}");
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("EMOTIC_SCREENSHOTS").map_or_else(
        || std::env::temp_dir().join("emotic-serve-screenshots"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn save(client: &Client, name: &str) {
    let png = client.screenshot().await;
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_cards_per_person_and_draws_live_overlays() {
    let Some(config) = common::config(true) else {
        return;
    };
    let (Some(bus), Some(zidane)) = (
        common::shared_fixture("images/bus.jpg"),
        common::shared_fixture("images/zidane.jpg"),
    ) else {
        return;
    };
    if !(installed("chromedriver", "--version")
        && installed("chromium", "--version")
        && installed("ffmpeg", "-version"))
    {
        return;
    }
    let server = common::start(config);
    let work = tempfile::tempdir().unwrap();
    let clip = make_clip(&zidane, work.path());
    let port = free_port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = browser(port, &clip).await;

    // What the API says about the image: the number of persons the page must show.
    let record: serde_json::Value = common::client()
        .post(format!("{}/v1/predict", server.url))
        .body(std::fs::read(&bus).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let persons = record["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["class_id"] == 0)
        .count();
    assert!(persons >= 4, "{record}");

    client.goto(&server.url).await;
    wait_for(
        &client,
        "return document.getElementById('model-status').textContent.includes('emotion model') ? 1 : 0",
        1.0,
    )
    .await;
    let input = client.find("#file").await;
    // WebDriver takes only canonical paths for file inputs.
    let bus_path = bus.canonicalize().unwrap();
    client.send_keys(&input, bus_path.to_str().unwrap()).await;
    let shown = wait_for(
        &client,
        "const r = document.querySelector('#results .result[data-persons]'); return r ? Number(r.dataset.persons) : -1",
        0.0,
    )
    .await;
    let cards = client
        .execute("return document.querySelectorAll('#results .result .card').length")
        .await;
    assert_eq!(shown as usize, persons);
    assert_eq!(cards.as_u64(), Some(persons as u64));
    // Every card has its bars and its three gauges.
    let complete = client
        .execute("return [...document.querySelectorAll('#results .card')].filter(c => c.querySelectorAll('.bars li').length > 0 && c.querySelectorAll('.gauge').length === 3).length")
        .await;
    assert_eq!(complete.as_u64(), Some(persons as u64));
    save(&client, "upload.png").await;

    // Live mode with the fake camera.
    let toggle = client.find("#live-toggle").await;
    client.click(&toggle).await;
    let drawn = wait_for(
        &client,
        "return Number(document.getElementById('live-canvas').dataset.overlays || 0)",
        LIVE_FRAMES as f64,
    )
    .await;
    assert!(drawn >= LIVE_FRAMES as f64);
    // Both people of the clip get a track card (a track may need a few frames to appear).
    wait_for(
        &client,
        "return document.querySelectorAll('#live-cards .card').length",
        2.0,
    )
    .await;
    client
        .execute("document.getElementById('live-title').scrollIntoView()")
        .await;
    save(&client, "live.png").await;

    // A phone-sized window.
    client.set_window_size(390, 844).await;
    client.execute("window.scrollTo(0, 0)").await;
    save(&client, "phone.png").await;
    client.close().await;
}
