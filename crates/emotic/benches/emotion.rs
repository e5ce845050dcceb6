//! EMOTIC stage timings at full size (ResNet18 streams, 512 features each, fc1 1024 -> 256), with
//! random weights built here (timing does not depend on the values):
//!
//! - `context`: the context stream on one 224x224 frame (runs once per frame);
//! - `body_batch/N`: the body stream on N 128x128 crops in one batch;
//! - `head/N`: the fusion head on N persons in one batch;
//! - `preprocess/N`: resizing a 1280x720 frame to 224x224 and N crops to 128x128, normalising;
//! - `predict_frame/N`: everything `EmotionModel::predict` does for a 1280x720 frame.
//!
//! Run: `cargo bench -p emotic --bench emotion` (`EMOTIC_BENCH_THREADS=1` for one ONNX Runtime
//! thread per session: on a busy 2-core machine the default pools of the three sessions contend).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use emotic::emotion::{BODY_NORM, CONTEXT_NORM, EmotionModel, EmotionWeights};
use emotic::engine::SessionOptions;
use emotic::imageops::{PixelRect, crop_rgb, normalize_chw, resize_rgb};
use emotic_weights::Tensor;
use image::RgbImage;

const PERSONS: [usize; 3] = [1, 4, 16];

/// A small deterministic generator (xorshift) for weights and pixels.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    fn tensor(&mut self, shape: &[usize], scale: f32, offset: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_f32(
            shape.to_vec(),
            (0..n).map(|_| self.next() * scale + offset).collect(),
        )
    }
}

fn batch_norm(t: &mut BTreeMap<String, Tensor>, rng: &mut Rng, prefix: &str, c: usize) {
    t.insert(format!("{prefix}.weight"), rng.tensor(&[c], 0.4, 1.0));
    t.insert(format!("{prefix}.bias"), rng.tensor(&[c], 0.2, 0.0));
    t.insert(format!("{prefix}.running_mean"), rng.tensor(&[c], 0.2, 0.0));
    t.insert(format!("{prefix}.running_var"), rng.tensor(&[c], 0.4, 1.0));
}

fn conv(t: &mut BTreeMap<String, Tensor>, rng: &mut Rng, key: &str, shape: [usize; 4]) {
    let fan_in = (shape[1] * shape[2] * shape[3]) as f32;
    t.insert(
        format!("{key}.weight"),
        rng.tensor(&shape, (24.0 / fan_in).sqrt(), 0.0),
    );
}

/// A full-width ResNet18 without fc, in the reference `nn.Sequential` key layout.
fn resnet18(rng: &mut Rng) -> BTreeMap<String, Tensor> {
    let mut t = BTreeMap::new();
    conv(&mut t, rng, "0", [64, 3, 7, 7]);
    batch_norm(&mut t, rng, "1", 64);
    let mut c_in = 64;
    for (stage, planes) in [64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let p = format!("{}.{block}", stage + 4);
            let block_in = if block == 0 { c_in } else { planes };
            conv(&mut t, rng, &format!("{p}.conv1"), [planes, block_in, 3, 3]);
            batch_norm(&mut t, rng, &format!("{p}.bn1"), planes);
            conv(&mut t, rng, &format!("{p}.conv2"), [planes, planes, 3, 3]);
            batch_norm(&mut t, rng, &format!("{p}.bn2"), planes);
            if block == 0 && stage > 0 {
                conv(
                    &mut t,
                    rng,
                    &format!("{p}.downsample.0"),
                    [planes, block_in, 1, 1],
                );
                batch_norm(&mut t, rng, &format!("{p}.downsample.1"), planes);
            }
        }
        c_in = planes;
    }
    t
}

fn head(rng: &mut Rng) -> BTreeMap<String, Tensor> {
    let mut t = BTreeMap::new();
    t.insert("fc1.weight".into(), rng.tensor(&[256, 1024], 0.1, 0.0));
    t.insert("fc1.bias".into(), rng.tensor(&[256], 0.1, 0.0));
    batch_norm(&mut t, rng, "bn1", 256);
    t.insert("fc_cat.weight".into(), rng.tensor(&[26, 256], 0.1, 0.0));
    t.insert("fc_cat.bias".into(), rng.tensor(&[26], 0.1, 0.0));
    t.insert("fc_cont.weight".into(), rng.tensor(&[3, 256], 0.1, 0.0));
    t.insert("fc_cont.bias".into(), rng.tensor(&[3], 0.1, 0.5));
    t
}

fn image(rng: &mut Rng, w: u32, h: u32) -> RgbImage {
    let data = (0..w * h * 3)
        .map(|_| ((rng.next() + 0.5) * 255.0) as u8)
        .collect();
    RgbImage::from_raw(w, h, data).unwrap_or_default()
}

/// N person boxes spread over a 1280x720 frame.
fn boxes(n: usize) -> Vec<[f32; 4]> {
    (0..n)
        .map(|i| {
            let x = (i % 8) as f32 * 150.0;
            let y = (i / 8) as f32 * 300.0;
            [x + 10.0, y + 20.0, x + 140.0, y + 380.0]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let weights = EmotionWeights {
        context: resnet18(&mut rng),
        body: resnet18(&mut rng),
        head: head(&mut rng),
        thresholds: [0.5; 26],
    };
    // EMOTIC_BENCH_THREADS=n sets ONNX Runtime's intra-op threads (default: its own choice).
    let threads = std::env::var("EMOTIC_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok());
    let options = SessionOptions {
        intra_threads: threads,
    };
    let mut model = match EmotionModel::from_weights(&weights, options) {
        Ok(m) => m,
        Err(e) => panic!("cannot build the full-size EMOTIC model: {e}"),
    };
    let frame = image(&mut rng, 1280, 720);
    let context = image(&mut rng, 224, 224);
    let crops: Vec<RgbImage> = (0..16).map(|_| image(&mut rng, 128, 128)).collect();
    let ctx_features = model.context_features(&context).unwrap_or_default();

    let mut group = c.benchmark_group("emotion");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("context", |b| {
        b.iter(|| black_box(model.context_features(&context).ok()))
    });
    for n in PERSONS {
        let bodies = &crops[..n];
        group.bench_with_input(BenchmarkId::new("body_batch", n), &n, |b, _| {
            b.iter(|| black_box(model.body_features(bodies).ok()));
        });
        let body_features = model.body_features(bodies).unwrap_or_default();
        group.bench_with_input(BenchmarkId::new("head", n), &n, |b, _| {
            b.iter(|| black_box(model.fuse(&ctx_features, &body_features).ok()));
        });
        let bxs = boxes(n);
        group.bench_with_input(BenchmarkId::new("preprocess", n), &n, |b, _| {
            b.iter(|| {
                let mut input = Vec::new();
                if let Ok(ctx) = resize_rgb(&frame, 224, 224) {
                    normalize_chw(&ctx, &CONTEXT_NORM, &mut input);
                }
                for bx in &bxs {
                    let rect = PixelRect {
                        x1: bx[0] as u32,
                        y1: bx[1] as u32,
                        x2: bx[2] as u32,
                        y2: bx[3] as u32,
                    };
                    if let Ok(body) = crop_rgb(&frame, rect).and_then(|c| resize_rgb(&c, 128, 128))
                    {
                        normalize_chw(&body, &BODY_NORM, &mut input);
                    }
                }
                black_box(input)
            });
        });
        group.bench_with_input(BenchmarkId::new("predict_frame", n), &n, |b, _| {
            b.iter(|| black_box(model.predict(&frame, &bxs).ok()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
