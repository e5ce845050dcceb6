//! Load time of the real YOLOv5n checkpoint (zip, fp16, 349 tensors) and of a small legacy file.
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn bench_load(c: &mut Criterion) {
    let yolo = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/yolov5n.pt"
    ));
    if yolo.exists() {
        c.bench_function("load_checkpoint yolov5n.pt", |b| {
            b.iter(|| black_box(emotic_weights::load_checkpoint(yolo).map(|c| c.tensors.len())));
        });
    } else {
        eprintln!(
            "skipping yolov5n.pt benchmark: {} not found",
            yolo.display()
        );
    }
    let legacy = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/emotic_module_legacy.pth"
    ));
    c.bench_function("load_checkpoint emotic_module_legacy.pth", |b| {
        b.iter(|| black_box(emotic_weights::load_checkpoint(legacy).map(|c| c.tensors.len())));
    });
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
