//! How much one `torch.save` file may inflate to, and expand to once its values are widened.
//!
//! A zip checkpoint is small on disk but its entries may be deflated: 4 MB of zip can declare
//! (and hold) 4 GiB of zeros. These limits are checked against the sizes the zip's central
//! directory declares, for every entry, before any entry is inflated; the reader then stops any
//! entry that inflates to more than it declared. The pickle's tensor shapes are checked against
//! the decoded budget before any storage is read.

use crate::{Error, Result};

/// Limits on what one checkpoint may decompress and decode to. [`Default`] is sized so that
/// every real checkpoint passes with a wide margin (see the field docs) while a deflate bomb is
/// refused before it is inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most bytes all zip entries of one file may declare together. Default 2 GiB: yolov5x.pt
    /// (the largest official YOLOv5) is 170 MB, the EMOTIC checkpoints about 90 MB together,
    /// Places365 ResNet18 45 MB.
    pub max_inflated_bytes: u64,
    /// Most bytes one entry, and the whole archive, may inflate to per compressed byte, beyond
    /// [`Self::ratio_allowance`]. Default 100: `torch.save` stores entries uncompressed (ratio
    /// 1), float weights recompressed by a zip tool shrink by 10% or so, while deflated zeros
    /// reach about 1000.
    pub max_ratio: u64,
    /// Bytes an entry (or the archive) may inflate to whatever its ratio. Default 16 MiB, so
    /// small entries that compress very well (`data.pkl`, zero-initialised buffers) pass.
    pub ratio_allowance: u64,
    /// Most bytes the selected tensors may take once widened to `f32`. Default 2 GiB: yolov5x
    /// has 86.7 M parameters, 347 MB as `f32`.
    pub max_decoded_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_inflated_bytes: 2 << 30,
            max_ratio: 100,
            ratio_allowance: 16 << 20,
            max_decoded_bytes: 2 << 30,
        }
    }
}

impl ReadLimits {
    /// Most bytes `compressed` bytes may inflate to.
    #[must_use]
    pub fn inflate_allowance(&self, compressed: u64) -> u64 {
        self.ratio_allowance
            .saturating_add(self.max_ratio.saturating_mul(compressed))
    }

    /// Fails unless an entry `name` declaring `size` bytes from `compressed` bytes fits.
    pub(crate) fn check_entry(&self, name: &str, size: u64, compressed: u64) -> Result<()> {
        if size > self.inflate_allowance(compressed) {
            return Err(Error::Limit(format!(
                "zip entry {name} declares {size} bytes from {compressed} compressed ({}), more \
                 than the {}:1 accepted beyond {} bytes",
                ratio_text(size, compressed),
                self.max_ratio,
                self.ratio_allowance
            )));
        }
        Ok(())
    }

    /// Fails unless the archive's entries together fit; `largest` names the biggest entry.
    pub(crate) fn check_archive(&self, size: u64, compressed: u64, largest: &str) -> Result<()> {
        if size > self.max_inflated_bytes {
            return Err(Error::Limit(format!(
                "zip entries declare {size} bytes in all (the largest is {largest}), more than \
                 the {}-byte budget",
                self.max_inflated_bytes
            )));
        }
        if size > self.inflate_allowance(compressed) {
            return Err(Error::Limit(format!(
                "zip entries declare {size} bytes in all from {compressed} compressed ({}; the \
                 largest is {largest}), more than the {}:1 accepted beyond {} bytes",
                ratio_text(size, compressed),
                self.max_ratio,
                self.ratio_allowance
            )));
        }
        Ok(())
    }
}

fn ratio_text(size: u64, compressed: u64) -> String {
    match size.checked_div(compressed) {
        Some(r) => format!("{r}:1"),
        None => "from nothing".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_entries_pass_and_bombs_do_not() {
        let limits = ReadLimits::default();
        // A stored 170 MB storage (yolov5x) and a 1 KB pickle deflated 8:1.
        limits
            .check_entry("a/data/0", 170 << 20, 170 << 20)
            .unwrap();
        limits.check_entry("a/data.pkl", 8 << 10, 1 << 10).unwrap();
        // Small entries may compress arbitrarily well.
        limits.check_entry("a/data/1", 16 << 20, 16 << 10).unwrap();
        // 4 GiB of zeros from 4 MB.
        let err = limits
            .check_entry("a/data/2", 4 << 30, 4 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("zip entry a/data/2") && err.contains("1024:1"),
            "{err}"
        );
        assert!(matches!(
            limits.check_entry("a/data/3", 1 << 30, 0),
            Err(Error::Limit(_))
        ));
    }

    #[test]
    fn the_archive_total_is_bounded_too() {
        let limits = ReadLimits::default();
        limits
            .check_archive(200 << 20, 200 << 20, "a/data/0")
            .unwrap();
        // Many small entries that each pass, but not together: 128 x 16 MiB from 2 MB.
        let err = limits
            .check_archive(2 << 30, 2 << 20, "a/data/7")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a/data/7"), "{err}");
        let err = limits
            .check_archive(3 << 30, 3 << 30, "a/data/0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("budget"), "{err}");
    }
}
