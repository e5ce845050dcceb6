//! Reading and writing real videos made with ffmpeg's test sources. Skipped (with a message)
//! where ffmpeg is not installed, except under `CI=true`, where its absence fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::frames::{FrameOptions, read_all};
use super::probe::probe_file;
use super::reader::ReaderOptions;
use super::writer::{VideoCodec, VideoWriter};
use super::{InputKind, program_available};
use crate::source::Input;

fn have_ffmpeg() -> bool {
    let ok = program_available("ffmpeg") && program_available("ffprobe");
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "ffmpeg/ffprobe are missing in CI"
    );
    if !ok {
        eprintln!("skipping: ffmpeg/ffprobe are not installed");
    }
    ok
}

/// Runs ffmpeg quietly with `args`; panics with its log on failure.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 320x240 `testsrc` clip with per-frame noise (so it compresses badly and truncating it
/// cuts real frames), `seconds` long at `fps`.
fn make_clip(dir: &Path, name: &str, fps: u32, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc=size=320x240:rate={fps}");
    let t = seconds.to_string();
    let p = path.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-t",
        &t,
        "-vf",
        "noise=alls=30:allf=t",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        p,
    ]);
    path
}

fn video(path: &Path) -> Input {
    Input {
        name: path.display().to_string(),
        kind: InputKind::Video,
    }
}

#[test]
fn every_frame_in_order_with_rising_timestamps() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.mp4", 10, 2);
    let frames = read_all(video(&clip), FrameOptions::default()).unwrap();
    assert_eq!(frames.len(), 20);
    for (i, (image, meta)) in frames.iter().enumerate() {
        assert_eq!(image.dimensions(), (320, 240));
        assert_eq!(meta.frame_index, i as u64);
        assert_eq!(meta.fps, Some(10.0));
        assert_eq!(meta.total_frames, Some(20));
        assert!(
            (meta.timestamp_s - i as f64 * 0.1).abs() < 1e-3,
            "frame {i}: {}",
            meta.timestamp_s
        );
    }
    // Frame 7's pixels equal what ffmpeg itself extracts as PNG.
    let png = dir.path().join("f7.png");
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-vf",
        "select=eq(n\\,7)",
        "-fps_mode",
        "passthrough",
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    let expected = image::open(&png).unwrap().into_rgb8();
    assert!(
        frames[7].0 == expected,
        "frame 7 differs from ffmpeg's own decoding"
    );
    assert!(
        frames[6].0 != expected,
        "neighbouring frames must differ (noise)"
    );
}

#[test]
fn vid_stride_keeps_every_nth_frame_and_its_index() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.mkv", 10, 2);
    let options = FrameOptions {
        reader: ReaderOptions {
            vid_stride: 3,
            ..ReaderOptions::default()
        },
        ..FrameOptions::default()
    };
    let frames = read_all(video(&clip), options).unwrap();
    let indices: Vec<u64> = frames.iter().map(|(_, m)| m.frame_index).collect();
    assert_eq!(indices, vec![0, 3, 6, 9, 12, 15, 18]);
    assert!((frames[2].1.timestamp_s - 0.6).abs() < 1e-3);
}

#[test]
fn a_truncated_file_gives_its_decodable_frames_then_the_error() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "full.mp4", 10, 3);
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut got = 0;
    let mut error = None;
    for event in super::frames::Frames::new(
        vec![video(&cut)],
        FrameOptions::default(),
        Default::default(),
    ) {
        match event {
            super::frames::FrameEvent::Frame(..) => got += 1,
            super::frames::FrameEvent::InputEnded {
                frames, error: e, ..
            } => {
                assert_eq!(frames, got);
                error = e;
            }
            super::frames::FrameEvent::Reconnecting { .. } => panic!("files are not reconnected"),
        }
    }
    assert!(got > 3 && got < 30, "decoded {got} of 30 frames");
    let error = error.expect("the truncation is reported").to_string();
    assert!(
        error.contains("cut.mp4") && error.contains(&format!("after {got} frames")),
        "{error}"
    );
}

#[test]
fn a_missing_webcam_fails_at_once() {
    let start = Instant::now();
    let err = read_all(
        Input {
            name: "/dev/video93".into(),
            kind: InputKind::Webcam,
        },
        FrameOptions::default(),
    )
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        err.to_string()
            .contains("webcam /dev/video93 does not exist"),
        "{err}"
    );
}

#[test]
fn written_video_has_the_rate_count_and_duration_asked_for() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mp4");
    let codec = VideoCodec::detect();
    // Odd sides are padded to even ones for yuv420p.
    let mut writer = VideoWriter::create(&path, 161, 120, 7.5, codec).unwrap();
    for i in 0..15u8 {
        writer
            .write(&image::RgbImage::from_pixel(
                161,
                120,
                image::Rgb([i * 10, 100, 200]),
            ))
            .unwrap();
    }
    assert!(!path.exists(), "the final name appears only when finished");
    assert_eq!(writer.finish().unwrap(), path);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["out.mp4".to_string()],
        "no temporary file is left behind"
    );
    let info = probe_file(&path, true, Duration::from_secs(20)).unwrap();
    assert_eq!((info.width, info.height), (162, 120));
    assert_eq!(info.frames, Some(15));
    assert_eq!(info.fps, Some(7.5));
    assert!((info.duration_s.unwrap() - 2.0).abs() < 0.01, "{info:?}");
    assert_eq!(
        info.codec,
        if codec == VideoCodec::H264 {
            "h264"
        } else {
            "mpeg4"
        }
    );
}

#[test]
fn a_writer_with_no_frames_leaves_nothing() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.mp4");
    let writer = VideoWriter::create(&path, 64, 48, 25.0, VideoCodec::Mpeg4).unwrap();
    assert!(writer.finish().is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
