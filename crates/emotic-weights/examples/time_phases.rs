//! Times the phases of loading a torch checkpoint: file read, pickle decode, full load.
fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: time_phases <file>"))?;
    let t = std::time::Instant::now();
    let bytes = std::fs::read(&path)?;
    let read = t.elapsed();
    let t = std::time::Instant::now();
    let _object = emotic_weights::torch::read_torch_object(&bytes)?;
    let decode = t.elapsed();
    let t = std::time::Instant::now();
    let ckpt = emotic_weights::torch::read_torch_bytes(&bytes)?;
    let full = t.elapsed();
    let line = format!(
        "read {read:?}, pickle decode {decode:?}, full load {full:?} ({} tensors)\n",
        ckpt.tensors.len()
    );
    std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes())?;
    Ok(())
}
