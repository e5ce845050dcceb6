//! Damaged and hostile inputs: every one must give an error (naming the file where a path was
//! given), never a panic, a hang or a huge allocation.

use anyhow::Result;
use emotic_weights::{Error, load_checkpoint, npy, safetensors, torch};
use std::path::{Path, PathBuf};

/// The error with its causes, as `emotic` prints it (`{:#}`): a file's error names the file and
/// keeps what went wrong as its cause.
fn chain(e: Error) -> String {
    format!("{:#}", anyhow::Error::from(e))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Cut points spread over the file: inside headers, pickles, storages and the zip directory.
fn cut_points(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..len.min(64)).collect();
    cuts.extend((1..40).map(|i| len * i / 40));
    cuts.extend(len.saturating_sub(64)..len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn truncated_files_fail_cleanly() -> Result<()> {
    let names = [
        "emotic_module.pth",
        "emotic_module_legacy.pth",
        "shared_views_legacy.pth",
        "dtypes.pth",
        "yolo_style.pt",
        "places_style.pth.tar",
        "small.safetensors",
    ];
    let dir = tempfile::tempdir()?;
    for name in names {
        let bytes = std::fs::read(data(name))?;
        assert!(load_checkpoint(&data(name)).is_ok(), "{name} intact");
        for cut in cut_points(bytes.len()) {
            let path = dir.path().join(format!("cut_{cut}_{name}"));
            std::fs::write(&path, &bytes[..cut])?;
            let err = load_checkpoint(&path).expect_err(&format!("{name} cut at {cut} loaded"));
            assert!(
                err.to_string().contains(&*path.to_string_lossy()),
                "{err} lacks the path"
            );
        }
    }
    Ok(())
}

#[test]
fn truncated_zip_says_central_directory() -> Result<()> {
    let bytes = std::fs::read(data("emotic_module.pth"))?;
    let err = torch::read_torch_bytes(&bytes[..bytes.len() - 30])
        .unwrap_err()
        .to_string();
    assert!(err.contains("zip central directory"), "{err}");
    Ok(())
}

#[test]
fn corrupted_zip_entry_is_detected() -> Result<()> {
    // Flip one byte inside the first storage's data (stored uncompressed): the CRC check fails.
    let mut bytes = std::fs::read(data("state_dict_fp16.pth"))?;
    let data_start = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes))?;
        let name = archive
            .file_names()
            .filter_map(Result::ok)
            .find(|n| n.ends_with("/data/0"));
        let name = name.map(std::borrow::Cow::into_owned);
        let entry = archive.by_name(&name.expect("storage entry"))?;
        usize::try_from(entry.data_start().expect("data start known"))?
    };
    bytes[data_start + 1] ^= 0x40;
    let err = torch::read_torch_bytes(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("corrupt") || err.to_lowercase().contains("checksum"),
        "{err}"
    );
    Ok(())
}

#[test]
fn os_system_pickle_is_refused() {
    let _ = std::fs::remove_file("/tmp/emotic_weights_pwned");
    let err = chain(load_checkpoint(&data("malicious_os_system.pth")).unwrap_err());
    assert!(
        err.contains("refusing to call posix.system") || err.contains("os.system"),
        "{err}"
    );
    assert!(err.contains("malicious_os_system.pth"), "{err}");
    assert!(!Path::new("/tmp/emotic_weights_pwned").exists());
}

#[test]
fn huge_storage_claim_and_deep_nesting_are_bounded() {
    let err = chain(load_checkpoint(&data("huge_storage_legacy.pth")).unwrap_err());
    assert!(err.contains("claims 1000000000000 elements"), "{err}");
    let err = load_checkpoint(&data("deep_nesting.pth")).unwrap_err();
    let Error::InFile { source, .. } = &err else {
        panic!("unexpected {err}")
    };
    assert!(matches!(**source, Error::Limit(_)), "{err}");
}

#[test]
fn random_bytes_and_other_formats_are_rejected() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("random.bin");
    let mut x = 0x9e3779b97f4a7c15u64;
    for round in 0..200 {
        let len = 1 + round * 37 % 3000;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        // Also try each prefix magic so the inner parsers see the random tail.
        for magic in [
            &b""[..],
            b"PK\x03\x04",
            b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
        ] {
            let mut b = magic.to_vec();
            b.extend_from_slice(&bytes);
            std::fs::write(&path, &b)?;
            assert!(load_checkpoint(&path).is_err());
            assert!(npy::read_npy_bytes(&b).is_err());
            let _ = safetensors::read_safetensors_bytes(&b);
        }
    }
    std::fs::write(&path, b"hello world, this is text")?;
    let err = chain(load_checkpoint(&path).unwrap_err());
    assert!(
        err.contains("not a PyTorch/safetensors file") && err.contains("random.bin"),
        "{err}"
    );
    let err = load_checkpoint(&dir.path().join("missing.pt"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pt"), "{err}");
    Ok(())
}

#[test]
fn byte_flips_never_panic() -> Result<()> {
    // Every single-byte corruption of small files, zip and legacy: errors or (for bytes that do
    // not matter, like zip timestamps) successes, but never panics.
    for name in [
        "state_dict_legacy.pth",
        "shared_views.pth",
        "small.safetensors",
    ] {
        let bytes = std::fs::read(data(name))?;
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = torch::read_torch_bytes(&b);
                let _ = safetensors::read_safetensors_bytes(&b);
            }
        }
    }
    Ok(())
}
