//! Both inputs of the synthetic release (`tools/gen_synthetic_emotic.py`) give identical
//! records; skip counts match the reference logic; export reads back; reruns are safe.

use std::io::Read;
use std::path::{Path, PathBuf};

use emotic_data::dataset::Dataset;
use emotic_data::prepare::{prepare_reference, prepare_release};
use emotic_data::reference::{self, ReferencePaths};
use emotic_data::{SPLITS, annotations::SkipReason};
use emotic_weights::npy;
use serde_json::Value;

fn synthetic() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/synthetic")
}

/// The reference directory with the gzipped image arrays inflated.
fn reference_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("reference");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(synthetic().join("reference")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".gz") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_end(&mut out)
                .unwrap();
            std::fs::write(dir.join(stem), out).unwrap();
        } else {
            std::fs::copy(&path, dir.join(name)).unwrap();
        }
    }
    dir
}

#[test]
fn release_and_reference_arrays_give_identical_records() {
    let tmp = tempfile::tempdir().unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(synthetic().join("expected.json")).unwrap())
            .unwrap();
    let a = prepare_release(
        &synthetic().join("release"),
        &tmp.path().join("a"),
        &SPLITS,
        false,
    )
    .unwrap();
    let b = prepare_reference(
        &reference_dir(tmp.path()),
        &tmp.path().join("b"),
        &SPLITS,
        false,
    )
    .unwrap();
    for (i, split) in SPLITS.iter().enumerate() {
        // Skip counts by reason are those of the reference logic in the generator.
        let want: std::collections::BTreeMap<String, usize> =
            serde_json::from_value(expected[split]["skipped"].clone()).unwrap();
        assert_eq!(a[i].meta.skipped, want, "{split} skip counts");
        assert_eq!(
            a[i].meta.count,
            expected[split]["count"].as_u64().unwrap() as usize,
            "{split}"
        );
        assert_eq!(b[i].meta.count, a[i].meta.count, "{split}");
        let da = Dataset::open(&tmp.path().join("a").join(split)).unwrap();
        let db = Dataset::open(&tmp.path().join("b").join(split)).unwrap();
        assert_eq!(da.len(), db.len(), "{split}");
        assert!(!da.is_empty());
        for r in 0..da.len() {
            let (ra, rb) = (da.get(r).unwrap(), db.get(r).unwrap());
            assert_eq!(ra, rb, "{split} record {r}");
            assert_eq!(
                ra.cat.iter().sum::<f32>() as usize,
                ra.provenance.categories.len()
            );
            assert!(ra.vad.iter().all(|v| (1.0..=10.0).contains(v)));
        }
        assert!(da.get(da.len()).is_none());
    }
    // Per-file problems name the files.
    let train_problems = &a[0].problems;
    assert!(
        train_problems
            .iter()
            .any(|p| p.reason == SkipReason::MissingImage && p.path.ends_with("img_train_03.png"))
    );
    assert!(
        a[2].problems
            .iter()
            .any(|p| p.reason == SkipReason::UnreadableImage
                && p.message.contains("img_test_03.png"))
    );
}

#[test]
fn export_reads_back_as_the_reference_arrays_and_rerun_is_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("prepared");
    let refdir = reference_dir(tmp.path());
    prepare_release(&synthetic().join("release"), &out, &SPLITS, false).unwrap();
    // A second run replaces the splits atomically and gives the same bytes.
    let first = std::fs::read(out.join("val/context.u8")).unwrap();
    prepare_release(&synthetic().join("release"), &out, &SPLITS, false).unwrap();
    assert_eq!(std::fs::read(out.join("val/context.u8")).unwrap(), first);
    assert!(
        std::fs::read_dir(&out).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
    for split in SPLITS {
        let ds = Dataset::open(&out.join(split)).unwrap();
        let exported = reference::export_split(&ds, &tmp.path().join("export"), split).unwrap();
        let want = ReferencePaths::new(&refdir, split);
        for (got, want) in [
            (&exported.context, &want.context),
            (&exported.body, &want.body),
            (&exported.cat, &want.cat),
            (&exported.cont, &want.cont),
        ] {
            let (g, w) = (
                npy::read_npy_file(got).unwrap(),
                npy::read_npy_file(want).unwrap(),
            );
            assert_eq!(g.shape, w.shape, "{}", got.display());
            assert_eq!(g.to_f64_vec(), w.to_f64_vec(), "{}", got.display());
        }
        assert_eq!(
            reference::read_csv(&exported.csv).unwrap(),
            reference::read_csv(&want.csv).unwrap()
        );
    }
}

#[test]
fn inconsistent_reference_inputs_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let refdir = reference_dir(tmp.path());
    // A CSV row whose categories disagree with cat_arr.
    let csv = refdir.join("val.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replacen("['", "['Yearning', '", 1);
    std::fs::write(&csv, lines.join("\n")).unwrap();
    let e = prepare_reference(&refdir, &tmp.path().join("o"), &["val"], false)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("val_cat_arr.npy") && e.contains("disagrees"),
        "{e}"
    );
    // A wrong header.
    std::fs::write(&csv, "Index,Folder\n").unwrap();
    let e = prepare_reference(&refdir, &tmp.path().join("o"), &["val"], false)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("val.csv:1") && e.contains("header"), "{e}");
    // A missing array file.
    std::fs::remove_file(refdir.join("test_body_arr.npy")).unwrap();
    let e = prepare_reference(&refdir, &tmp.path().join("o"), &["test"], false)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("test_body_arr.npy"), "{e}");
    assert!(!tmp.path().join("o/test").exists());
}

#[test]
fn a_damaged_dataset_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p");
    prepare_release(&synthetic().join("release"), &out, &["val"], false).unwrap();
    let body = out.join("val/body.u8");
    let bytes = std::fs::read(&body).unwrap();
    std::fs::write(&body, &bytes[..bytes.len() - 1]).unwrap();
    let e = Dataset::open(&out.join("val")).err().unwrap().to_string();
    assert!(e.contains("body.u8"), "{e}");
}
