//! Prints every tensor key, shape and dtype of a checkpoint, and its metadata keys.
fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: dump_keys <file>"))?;
    let start = std::time::Instant::now();
    let ckpt = emotic_weights::load_checkpoint(std::path::Path::new(&path))?;
    let elapsed = start.elapsed();
    let mut out = String::new();
    for (k, t) in &ckpt.tensors {
        out.push_str(&format!("{k} {:?} {:?}\n", t.shape, t.dtype));
    }
    out.push_str(&format!(
        "class {:?}\nmeta keys {:?}\n",
        ckpt.module_class,
        ckpt.meta.keys().collect::<Vec<_>>()
    ));
    out.push_str(&format!(
        "{} tensors loaded in {elapsed:?}\n",
        ckpt.tensors.len()
    ));
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}
