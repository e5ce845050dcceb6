//! Every backend computes the same training step.
//!
//! Each device starts from the same weights and batch (dropout off, BatchNorm in training
//! mode) and must agree with burn's ndarray backend on the outputs, the loss and every
//! parameter's gradient. CPU: flex (the default `cpu` device) against ndarray. CUDA, built only with
//! `--features cuda` and run where an NVIDIA GPU is present:
//! `cargo test -p emotic-train --features cuda --test backends`.
//!
//! Tolerances: backends add in different orders (GPU reductions, other matmul blockings), so
//! float32 results differ in the last bits. Outputs and loss must agree within 1e-4 relative;
//! gradients within 5e-3 in the golden tests' mixed measure (|a - b| / (|b| + 1% of the
//! tensor's largest value)), the bound float64 PyTorch holds our ndarray gradients to.
//! Weights after an Adam step are not compared: the first step moves each weight by about
//! ±lr whatever its gradient's size, so gradients that are rounding noise flip sign between
//! backends; Adam itself is held to PyTorch on both CPU backends by `tests/golden.rs`.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use emotic_train::loss::{LossConfig, emotic_loss};
use emotic_train::model::EmoticNet;
use emotic_train::rng::Rng;

const WIDTHS: [usize; 4] = [8, 16, 32, 64];
const BATCH: usize = 6;

struct Step {
    outputs: Vec<f32>,
    loss: f64,
    gradients: BTreeMap<String, Vec<f32>>,
}

fn one_step(device: &Device) -> Step {
    let mut rng = Rng::new(11);
    let model = EmoticNet::init(WIDTHS, &mut rng, device);
    let mut draw = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal() as f32).collect() };
    let context: Tensor<4> = Tensor::from_data(
        TensorData::new(draw(BATCH * 3 * 224 * 224), [BATCH, 3, 224, 224]),
        device,
    );
    let body: Tensor<4> = Tensor::from_data(
        TensorData::new(draw(BATCH * 3 * 128 * 128), [BATCH, 3, 128, 128]),
        device,
    );
    let cat_host: Vec<f32> = (0..BATCH * 26)
        .map(|i| if i % 5 == 0 { 1.0 } else { 0.0 })
        .collect();
    let cat: Tensor<2> = Tensor::from_data(TensorData::new(cat_host.clone(), [BATCH, 26]), device);
    let cont: Tensor<2> = Tensor::from_data(
        TensorData::new([0.3f32, 0.5, 0.7].repeat(BATCH), [BATCH, 3]),
        device,
    );
    let (pc, pv) = model.forward(context, body, None);
    let host = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
    let mut outputs = host(pc.clone());
    outputs.extend(host(pv.clone()));
    let terms = emotic_loss(&LossConfig::default(), pc, pv, &cat_host, cat, cont);
    let loss = f64::from(host(terms.total.clone().reshape([1, 1]))[0]);
    let grads = terms.total.backward();
    let (_, gradients) = model.gradients(&grads);
    Step {
        outputs,
        loss,
        gradients,
    }
}

fn assert_same_step(reference: &Device, other: &Device) {
    let a = one_step(reference);
    let b = one_step(other);
    let rel = |x: f32, y: f32| (x - y).abs() / y.abs().max(1.0);
    let worst_output = a
        .outputs
        .iter()
        .zip(&b.outputs)
        .map(|(x, y)| rel(*x, *y))
        .fold(0.0f32, f32::max);
    assert!(worst_output <= 1e-4, "outputs differ by {worst_output}");
    assert!(
        (a.loss - b.loss).abs() <= 1e-4 * a.loss.abs(),
        "loss {} vs {}",
        a.loss,
        b.loss
    );
    assert_eq!(
        a.gradients.keys().collect::<Vec<_>>(),
        b.gradients.keys().collect::<Vec<_>>(),
        "the same parameters get gradients"
    );
    let max_abs = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let global = a
        .gradients
        .values()
        .map(|v| max_abs(v))
        .fold(0.0f32, f32::max);
    let mut worst = (0.0f32, String::new());
    for (name, want) in &a.gradients {
        let got = &b.gradients[name];
        let local = max_abs(want);
        if local < 1e-6 * global {
            // Analytically zero (fc1.bias feeds a training-mode BatchNorm, which removes any
            // shift): only rounding noise on both sides.
            assert!(max_abs(got) < 1e-6 * global, "{name}: expected ~0");
            continue;
        }
        let scale = local * 1e-2;
        for (g, w) in got.iter().zip(want) {
            let err = (g - w).abs() / (w.abs() + scale);
            if err > worst.0 {
                worst = (err, name.clone());
            }
        }
    }
    eprintln!(
        "outputs {worst_output:.2e}, loss {:.2e}, worst gradient {:.2e} ({})",
        (a.loss - b.loss).abs() / a.loss.abs(),
        worst.0,
        worst.1
    );
    assert!(worst.0 <= 5e-3, "gradient of {}: {}", worst.1, worst.0);
}

#[allow(deprecated)] // burn's ndarray backend is the reference the others are held to
fn ndarray() -> Device {
    Device::ndarray().autodiff()
}

#[test]
fn a_training_step_on_flex_matches_ndarray() {
    assert_same_step(&ndarray(), &Device::flex().autodiff());
}

#[cfg(feature = "cuda")]
#[test]
fn a_training_step_on_cuda_matches_ndarray() {
    assert_same_step(&ndarray(), &Device::cuda(0).autodiff());
}
