//! A full disk or an unwritable run folder stops `predict` with exit code 1 and an error that
//! names the path, and what was written before stays valid.
//!
//! Tests run as root, where mode bits stop nothing, so the full disk is a real one: a 1 MiB
//! tmpfs mounted for the test (skipped, with the reason printed, where mounting is not allowed).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{emotic, shared_fixture};

/// A tmpfs of `size` mounted at a fresh folder, unmounted on drop.
struct SmallDisk {
    _dir: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tmp");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { _dir: dir, mount }),
            Ok(o) => {
                eprintln!(
                    "skipping: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipping: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_full_disk_stops_the_run_and_keeps_whole_records() {
    let Some(weights) = shared_fixture("yolov5n.pt") else {
        return;
    };
    let Some(bus) = shared_fixture("images/bus.jpg") else {
        return;
    };
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let work = tempfile::tempdir().expect("tmp");
    let images = work.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    // Each annotated 810x1080 copy takes about 150 KB: the 1 MiB disk fills after a few.
    for i in 0..24 {
        std::fs::copy(&bus, images.join(format!("bus{i:02}.jpg"))).expect("copy");
    }
    let project = disk.mount.join("runs");
    let (code, _, err) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            s(&weights),
            "--source",
            s(&images),
            "--project",
            s(&project),
            "--save-csv",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    let run = project.join("exp");
    assert!(
        line.contains(s(&run)) && line.contains("No space left on device"),
        "{line}"
    );
    // Whatever was written is whole: every JSON line parses, every CSV row has the header's
    // width, every saved image decodes.
    let jsonl = std::fs::read_to_string(run.join("predictions.jsonl")).unwrap_or_default();
    assert!(jsonl.is_empty() || jsonl.ends_with('\n'));
    for record in jsonl.lines() {
        let value: serde_json::Value = serde_json::from_str(record).expect("a whole JSON line");
        assert!(value["image"].is_string(), "{record}");
    }
    if let Ok(csv) = std::fs::read_to_string(run.join("predictions.csv")) {
        assert!(csv.is_empty() || csv.ends_with('\n'));
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let width = rows.headers().expect("header").len();
        for row in rows.records() {
            assert_eq!(row.expect("a whole row").len(), width);
        }
    }
    let saved: Vec<PathBuf> = std::fs::read_dir(&run)
        .expect("run folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    assert!(saved.len() < 24, "the disk should have filled up");
    for image in &saved {
        image::open(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    }
    // No temporary files are left behind by the atomic writers.
    let leftovers: Vec<_> = std::fs::read_dir(&run)
        .expect("run folder")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_unwritable_project_folder_fails_naming_it() {
    let Some(weights) = shared_fixture("yolov5n.pt") else {
        return;
    };
    let work = tempfile::tempdir().expect("tmp");
    let image = work.path().join("tiny.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 150]))
        .save(&image)
        .expect("png");
    // A folder inside a character device cannot be created, even by root.
    let project = Path::new("/dev/null/runs");
    let (code, _, err) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            s(&weights),
            "--source",
            s(&image),
            "--project",
            s(project),
        ],
    );
    assert_eq!(code, 1, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert!(line.contains("/dev/null/runs"), "{line}");
}
