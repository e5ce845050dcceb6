//! Time of a full evaluation (26 categories + VAD) at the reference split sizes.

use criterion::{Criterion, criterion_group, criterion_main};
use emotic_eval::{Matrix, evaluate};

/// Deterministic pseudo-random data: labels with ~15% positives, scores rounded to 0.01 so
/// there are many ties, VAD on 1-10.
fn data(n: usize) -> (Matrix, Matrix, Matrix, Matrix) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let labels: Vec<f64> = (0..26 * n)
        .map(|_| f64::from(u8::from(next() < 0.15)))
        .collect();
    let preds: Vec<f64> = labels
        .iter()
        .map(|l| ((0.6 * next() + 0.3 * l) * 100.0).round() / 100.0)
        .collect();
    let vad_l: Vec<f64> = (0..3 * n).map(|_| (1.0 + 9.0 * next()).round()).collect();
    let vad_p: Vec<f64> = vad_l.iter().map(|v| v + next() - 0.5).collect();
    (
        Matrix::new(26, n, preds).expect("shape"),
        Matrix::new(26, n, labels).expect("shape"),
        Matrix::new(3, n, vad_p).expect("shape"),
        Matrix::new(3, n, vad_l).expect("shape"),
    )
}

fn bench(c: &mut Criterion) {
    for n in [3315, 7203] {
        let (p, l, vp, vl) = data(n);
        c.bench_function(&format!("evaluate {n} persons"), |b| {
            b.iter(|| evaluate(&p, &l, Some((&vp, &vl))).expect("evaluate"));
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
