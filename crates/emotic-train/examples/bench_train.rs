//! Training throughput on CPU: full-size ResNet18 streams (context 224x224, body 128x128) +
//! head, one forward + backward + Adam step per batch, reference loss.
//!
//! `cargo run --release -p emotic-train --example bench_train -- [batch ...] [--steps N]`
//! prints one JSON line per batch size. `BENCH_DEVICE` picks the device (`cpu`, `ndarray`,
//! `flex`; see `emotic_train::trainer::device_for`). `tools/bench_train.py` runs it next to PyTorch.

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use emotic_train::adam::{Adam, AdamConfig};
use emotic_train::loss::{LossConfig, emotic_loss};
use emotic_train::model::{EmoticNet, RESNET18_WIDTHS};
use emotic_train::rng::Rng;
use emotic_train::trainer::device_for;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut batches = Vec::new();
    let mut steps = 2usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--steps" {
            steps = it.next().ok_or("--steps needs a value")?.parse()?;
        } else {
            batches.push(a.parse::<usize>()?);
        }
    }
    if batches.is_empty() {
        batches = vec![8, 52];
    }
    let name = std::env::var("BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let device = device_for(&name)?.autodiff();
    let mut rng = Rng::new(0);
    for &n in &batches {
        let mut model = EmoticNet::init(RESNET18_WIDTHS, &mut rng, &device);
        let mut adam = Adam::new(AdamConfig::default());
        let mut draw = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal() as f32).collect() };
        let context: Tensor<4> = Tensor::from_data(
            TensorData::new(draw(n * 3 * 224 * 224), [n, 3, 224, 224]),
            &device,
        );
        let body: Tensor<4> = Tensor::from_data(
            TensorData::new(draw(n * 3 * 128 * 128), [n, 3, 128, 128]),
            &device,
        );
        let cat_host: Vec<f32> = (0..n * 26)
            .map(|i| if i % 7 == 0 { 1.0 } else { 0.0 })
            .collect();
        let cat: Tensor<2> = Tensor::from_data(TensorData::new(cat_host.clone(), [n, 26]), &device);
        let cont: Tensor<2> =
            Tensor::from_data(TensorData::new(vec![0.5f32; n * 3], [n, 3]), &device);
        let mut times = Vec::new();
        for _ in 0..=steps {
            let t = Instant::now();
            let (pc, pv) = model.forward(context.clone(), body.clone(), None);
            let terms = emotic_loss(
                &LossConfig::default(),
                pc,
                pv,
                &cat_host,
                cat.clone(),
                cont.clone(),
            );
            let forward = t.elapsed().as_secs_f64();
            let grads = terms.total.backward();
            let backward = t.elapsed().as_secs_f64();
            model = adam.step(model, &grads, 0.01);
            times.push(t.elapsed().as_secs_f64());
            if std::env::var_os("BENCH_PHASES").is_some() {
                eprintln!(
                    "batch {n}: forward {forward:.2}s, backward {:.2}s, adam {:.2}s",
                    backward - forward,
                    t.elapsed().as_secs_f64() - backward
                );
            }
        }
        // The first step (allocation, warm-up) is not counted.
        let measured = &times[1..];
        let mean = measured.iter().sum::<f64>() / measured.len() as f64;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{{\"impl\": \"burn-{name}\", \"batch\": {n}, \"steps\": {}, \"seconds_per_step\": {mean:.3}, \"samples_per_second\": {:.3}}}",
                measured.len(),
                n as f64 / mean
            );
        }
    }
    Ok(())
}
