//! Times forward + backward of single layers on the CPU autodiff device (performance triage).

use std::time::Instant;

use burn::tensor::module::{batch_norm_train, conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Distribution, Tensor};
use emotic_train::trainer::device_for;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = device_for("cpu")?.autodiff();
    let time = |name: &str, f: &dyn Fn() -> Tensor<1>| {
        let t = Instant::now();
        let loss = f();
        let fwd = t.elapsed().as_secs_f64();
        let _g = loss.backward();
        eprintln!(
            "{name}: forward {fwd:.3}s backward {:.3}s",
            t.elapsed().as_secs_f64() - fwd
        );
    };
    let x = Tensor::<4>::random([1, 3, 224, 224], Distribution::Default, &device);
    let w = Tensor::<4>::random([64, 3, 7, 7], Distribution::Default, &device).require_grad();
    time("conv 7x7/2 3->64 @224", &|| {
        conv2d(
            x.clone(),
            w.clone(),
            None,
            ConvOptions::new([2, 2], [3, 3], [1, 1], 1),
        )
        .sum()
    });
    let x2 = Tensor::<4>::random([1, 64, 56, 56], Distribution::Default, &device).require_grad();
    let w2 = Tensor::<4>::random([64, 64, 3, 3], Distribution::Default, &device).require_grad();
    time("conv 3x3 64->64 @56", &|| {
        conv2d(
            x2.clone(),
            w2.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
        .sum()
    });
    let x2c = Tensor::<4>::random([1, 64, 56, 56], Distribution::Default, &device);
    time("conv 3x3 64->64 @56, weight grad only", &|| {
        conv2d(
            x2c.clone(),
            w2.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
        .sum()
    });
    let w2c = Tensor::<4>::random([64, 64, 3, 3], Distribution::Default, &device);
    time("conv 3x3 64->64 @56, input grad only", &|| {
        conv2d(
            x2.clone(),
            w2c.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
        .sum()
    });
    let x3 = Tensor::<4>::random([1, 64, 112, 112], Distribution::Default, &device).require_grad();
    time("maxpool 3/2 @112", &|| {
        max_pool2d(
            x3.clone(),
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        )
        .sum()
    });
    let g = Tensor::<1>::ones([64], &device).require_grad();
    let b = Tensor::<1>::zeros([64], &device).require_grad();
    time("batchnorm train 64 @112", &|| {
        batch_norm_train(x3.clone(), g.clone(), b.clone(), 1e-5)
            .output
            .sum()
    });
    Ok(())
}
