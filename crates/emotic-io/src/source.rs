//! What `--source` names, decided from the string the way YOLOv5 does, and the files it yields.

use std::path::{Path, PathBuf};

use crate::video::InputKind;
use crate::{Error, Result};

/// Video file extensions (YOLOv5's list). Recognised so that a video is reported as such.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "asf", "avi", "gif", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "ts", "webm", "wmv",
];

/// The kind of input a `--source` string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One file.
    File(PathBuf),
    /// Every file directly inside a folder.
    Directory(PathBuf),
    /// A glob pattern such as `photos/*.jpg`.
    Glob(String),
    /// A `.txt` file listing one path per line.
    List(PathBuf),
    /// A webcam index or device (`0`, `/dev/video0`).
    Webcam(String),
    /// A network stream URL (`rtsp://`, `rtmp://`, `http(s)://`) or a `.streams` list.
    Stream(String),
}

impl Source {
    /// Classifies a `--source` string. Parsing only looks at the string and at what exists on
    /// disk; nothing is opened.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        let is_url = ["rtsp://", "rtmp://", "http://", "https://"]
            .iter()
            .any(|p| lower.starts_with(p));
        if is_url || lower.ends_with(".streams") {
            return Self::Stream(text.to_string());
        }
        if text.parse::<u32>().is_ok() || lower.starts_with("/dev/video") {
            return Self::Webcam(text.to_string());
        }
        let path = Path::new(text);
        if path.is_dir() {
            return Self::Directory(path.to_path_buf());
        }
        if text.contains(['*', '?', '[']) && !path.exists() {
            return Self::Glob(text.to_string());
        }
        if lower.ends_with(".txt") {
            return Self::List(path.to_path_buf());
        }
        Self::File(path.to_path_buf())
    }

    /// The files this source yields, in a stable order (sorted, like YOLOv5's `sorted(glob(...))`).
    /// Hidden files (`.name`) in folders are left out. Every other file is returned, including
    /// ones that turn out not to be images: reading them reports a per-file error.
    ///
    /// # Errors
    /// When the source does not exist, a folder or glob yields nothing, or the source is a
    /// webcam or stream, which image prediction does not read.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let files = match self {
            Self::File(path) => {
                if !path.exists() {
                    return Err(Error::Source(format!("{} does not exist", path.display())));
                }
                vec![path.clone()]
            }
            Self::Directory(dir) => {
                let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
                let mut files = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|e| Error::io(dir, e))?;
                    let hidden = entry.file_name().to_string_lossy().starts_with('.');
                    if !hidden && entry.path().is_file() {
                        files.push(entry.path());
                    }
                }
                files.sort();
                files
            }
            Self::Glob(pattern) => {
                // Like Python's glob, `*` does not match a leading dot.
                let options = glob::MatchOptions {
                    require_literal_leading_dot: true,
                    ..Default::default()
                };
                let paths = glob::glob_with(pattern, options)
                    .map_err(|e| Error::Source(format!("bad glob pattern {pattern}: {e}")))?;
                let mut files: Vec<PathBuf> = paths
                    .filter_map(std::result::Result::ok)
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                files
            }
            Self::List(list) => {
                let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
                let base = list.parent().unwrap_or(Path::new("."));
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| {
                        let p = PathBuf::from(l);
                        if p.is_relative() && !p.exists() {
                            base.join(p)
                        } else {
                            p
                        }
                    })
                    .collect()
            }
            Self::Webcam(name) | Self::Stream(name) => {
                return Err(Error::Source(format!(
                    "{name} is a webcam or network stream; this version reads images only"
                )));
            }
        };
        if files.is_empty() {
            return Err(Error::Source(format!(
                "{} contains no files",
                self.describe()
            )));
        }
        Ok(files)
    }

    fn describe(&self) -> String {
        match self {
            Self::File(p) | Self::Directory(p) | Self::List(p) => p.display().to_string(),
            Self::Glob(s) | Self::Webcam(s) | Self::Stream(s) => s.clone(),
        }
    }
}

/// One input of a run, as the frame loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The path, device or URL as given.
    pub name: String,
    /// What it is: decides how it is read.
    pub kind: InputKind,
}

impl Source {
    /// Every input this source names, in order, for the frame loop that handles images, video
    /// files, webcams and streams alike. Files are classified by extension (videos by
    /// [`VIDEO_EXTENSIONS`], everything else is read as an image). A `.streams` file, like a
    /// `.txt` list, names one input per line, each classified like a `--source` string, so it
    /// can mix URLs, webcams and files.
    ///
    /// # Errors
    /// As [`Source::files`] for files, folders, globs and lists; when a `.streams` file cannot
    /// be read or lists nothing.
    pub fn inputs(&self) -> Result<Vec<Input>> {
        match self {
            Self::Webcam(name) => Ok(vec![Input {
                name: name.clone(),
                kind: InputKind::Webcam,
            }]),
            Self::Stream(name) if !name.to_ascii_lowercase().ends_with(".streams") => {
                Ok(vec![Input {
                    name: name.clone(),
                    kind: InputKind::Stream,
                }])
            }
            Self::Stream(list) => {
                let path = Path::new(list);
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                let inputs: Vec<Input> = list_lines(&text)
                    .map(|line| Self::parse(line).inputs())
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .flatten()
                    .collect();
                if inputs.is_empty() {
                    return Err(Error::Source(format!("{list} lists no inputs")));
                }
                Ok(inputs)
            }
            Self::List(list) => {
                // Lines may be URLs or webcams as well as files.
                let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
                if list_lines(&text)
                    .any(|l| matches!(Self::parse(l), Self::Webcam(_) | Self::Stream(_)))
                {
                    let base = list.parent().unwrap_or(Path::new("."));
                    let mut inputs = Vec::new();
                    for line in list_lines(&text) {
                        let source = match Self::parse(line) {
                            Self::File(p) if p.is_relative() && !p.exists() => {
                                Self::File(base.join(p))
                            }
                            other => other,
                        };
                        inputs.extend(source.inputs()?);
                    }
                    return Ok(inputs);
                }
                Ok(self.files()?.into_iter().map(file_input).collect())
            }
            _ => Ok(self.files()?.into_iter().map(file_input).collect()),
        }
    }

    /// Whether any input needs the video loop (a video file, webcam or stream).
    ///
    /// # Errors
    /// As [`Source::inputs`].
    pub fn has_video(&self) -> Result<bool> {
        Ok(self.inputs()?.iter().any(|i| i.kind != InputKind::Image))
    }
}

fn list_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn file_input(path: PathBuf) -> Input {
    let kind = if has_video_extension(&path) {
        InputKind::Video
    } else {
        InputKind::Image
    };
    Input {
        name: path.display().to_string(),
        kind,
    }
}

/// Whether a path looks like a video file by its extension.
#[must_use]
pub fn has_video_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_yolov5() {
        assert_eq!(Source::parse("0"), Source::Webcam("0".into()));
        assert_eq!(
            Source::parse("/dev/video2"),
            Source::Webcam("/dev/video2".into())
        );
        assert!(matches!(Source::parse("rtsp://host/x"), Source::Stream(_)));
        assert!(matches!(
            Source::parse("HTTPS://host/x.mjpg"),
            Source::Stream(_)
        ));
        assert!(matches!(Source::parse("cams.streams"), Source::Stream(_)));
        assert!(matches!(
            Source::parse("/nonexistent/*.jpg"),
            Source::Glob(_)
        ));
        assert!(matches!(Source::parse("list.txt"), Source::List(_)));
        assert!(matches!(Source::parse("a.jpg"), Source::File(_)));
        assert!(matches!(Source::parse("."), Source::Directory(_)));
    }

    #[test]
    fn folders_glob_and_lists_are_sorted_and_skip_hidden() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.jpg", "a.png", ".hidden.jpg", "c.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let files = Source::Directory(dir.path().to_path_buf()).files().unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, vec!["a.png", "b.jpg", "c.txt"]);

        let pattern = format!("{}/*.jpg", dir.path().display());
        assert_eq!(Source::parse(&pattern).files().unwrap().len(), 1);

        let list = dir.path().join("list.txt");
        std::fs::write(&list, "b.jpg\n\n# comment\na.png\n").unwrap();
        let listed = Source::List(list).files().unwrap();
        assert_eq!(
            listed,
            vec![dir.path().join("b.jpg"), dir.path().join("a.png")]
        );
    }

    #[test]
    fn empty_folders_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Source::Directory(dir.path().to_path_buf())
            .files()
            .unwrap_err();
        assert!(err.to_string().contains("no files"), "{err}");
        assert!(Source::File(dir.path().join("nope.jpg")).files().is_err());
        assert!(Source::parse("3").files().is_err());
    }

    #[test]
    fn inputs_know_videos_webcams_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.jpg", "b.MP4", "c.mkv"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let kinds: Vec<InputKind> = Source::Directory(dir.path().to_path_buf())
            .inputs()
            .unwrap()
            .iter()
            .map(|i| i.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![InputKind::Image, InputKind::Video, InputKind::Video]
        );
        assert!(
            Source::Directory(dir.path().to_path_buf())
                .has_video()
                .unwrap()
        );
        assert_eq!(
            Source::parse("0").inputs().unwrap(),
            vec![Input {
                name: "0".into(),
                kind: InputKind::Webcam
            }]
        );

        let streams = dir.path().join("cams.streams");
        std::fs::write(
            &streams,
            "rtsp://127.0.0.1:8554/a\n# off\n\n1\nhttp://127.0.0.1:8080/b.mjpg\n",
        )
        .unwrap();
        let inputs = Source::parse(streams.to_str().unwrap()).inputs().unwrap();
        let kinds: Vec<InputKind> = inputs.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            vec![InputKind::Stream, InputKind::Webcam, InputKind::Stream]
        );
        assert_eq!(inputs[2].name, "http://127.0.0.1:8080/b.mjpg");

        // A .txt list with URLs and relative files.
        let list = dir.path().join("mixed.txt");
        std::fs::write(&list, "rtmp://127.0.0.1/live\nb.MP4\na.jpg\n").unwrap();
        let inputs = Source::List(list).inputs().unwrap();
        assert_eq!(
            inputs.iter().map(|i| i.kind).collect::<Vec<_>>(),
            vec![InputKind::Stream, InputKind::Video, InputKind::Image]
        );
        assert_eq!(
            inputs[1].name,
            dir.path().join("b.MP4").display().to_string()
        );
    }
}
