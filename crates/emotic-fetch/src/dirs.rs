//! Where downloaded weights are kept, and where PyTorch users already have them.

use std::path::PathBuf;

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn user_cache() -> Option<PathBuf> {
    env_dir("XDG_CACHE_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
}

/// Our cache of downloaded weights: `$EMOTIC_CACHE_DIR/weights`, else
/// `$XDG_CACHE_HOME/emotic-rs/weights`, else `~/.cache/emotic-rs/weights`.
#[must_use]
pub fn default_cache_dir() -> Option<PathBuf> {
    env_dir("EMOTIC_CACHE_DIR")
        .or_else(|| user_cache().map(|c| c.join("emotic-rs")))
        .map(|d| d.join("weights"))
}

/// PyTorch's own download cache (`torch.hub`): `$TORCH_HOME/hub/checkpoints`, else
/// `$XDG_CACHE_HOME/torch/hub/checkpoints`, else `~/.cache/torch/hub/checkpoints`. Anyone who
/// ran torchvision has `resnet18-f37072fd.pth` there; we read it in place (after checking its
/// digest) instead of downloading it again.
#[must_use]
pub fn torch_hub_dir() -> Option<PathBuf> {
    env_dir("TORCH_HOME")
        .or_else(|| user_cache().map(|c| c.join("torch")))
        .map(|d| d.join("hub").join("checkpoints"))
}
