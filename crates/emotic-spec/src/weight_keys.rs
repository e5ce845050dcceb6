//! The one key convention for the weights of the EMOTIC feature streams: torchvision's ResNet
//! state-dict names.
//!
//! Stream checkpoints come in three layouts. [`to_torchvision`] converts each of them once,
//! when it is loaded, so that every model builder, the bundle and training see torchvision
//! names only:
//!
//! | layout | keys | written by |
//! |---|---|---|
//! | torchvision | `conv1.weight`, `bn1.*`, `layer1.0.conv1.weight` ... `layer4.1.downsample.1.*`, `fc.*` | `torchvision.models.resnet18().state_dict()`, our training |
//! | reference `nn.Sequential` | `0.weight`, `1.*`, `4.0.conv1.weight` ... `7.1.bn2.*` | Tandon-A/emotic: `nn.Sequential(*list(resnet18.children())[:-1])`, children numbered `conv1`=0, `bn1`=1, `layer1..4`=4..7 |
//! | `DataParallel` | `module.conv1.weight`, ... | the Places365 ResNet18 (`resnet18_places365.pth.tar`) |
//!
//! `fc.*` (torchvision's 1000-class, Places365's 365-class classifier) is dropped: an EMOTIC
//! stream has no classifier. Keys that belong to no known child are kept as they are, so the
//! code that uses the weights can report them. [`to_reference`] is the inverse, for writing
//! the reference's files back.

use std::collections::BTreeMap;

/// The `DataParallel` wrapper's prefix.
const DATA_PARALLEL: &str = "module.";

/// torchvision's ResNet children that hold weights, with their index in the reference's
/// `nn.Sequential(*children[:-1])` (`relu` = 2 and `maxpool` = 3 have none; `avgpool` = 8
/// neither; `fc` is cut off).
const CHILDREN: [(&str, &str); 6] = [
    ("conv1", "0"),
    ("bn1", "1"),
    ("layer1", "4"),
    ("layer2", "5"),
    ("layer3", "6"),
    ("layer4", "7"),
];

/// torchvision's classifier, which the streams drop.
const CLASSIFIER: &str = "fc";

/// The key layouts a stream state dict comes in (a `module.` prefix aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// torchvision's names (`conv1.weight`, `layer1.0.conv1.weight`): the convention.
    Torchvision,
    /// The reference's `nn.Sequential` indices (`0.weight`, `4.0.conv1.weight`).
    Sequential,
}

impl Layout {
    /// Tells the layout from the keys: `conv1.weight` means torchvision, else `0.weight` means
    /// the reference's `nn.Sequential`. Anything else is taken as torchvision, which has nothing
    /// to rename, so that the missing `conv1.weight` is what gets reported.
    pub fn of<'k>(keys: impl IntoIterator<Item = &'k str>) -> Self {
        let mut sequential = false;
        for key in keys {
            match strip_data_parallel(key) {
                "conv1.weight" => return Self::Torchvision,
                "0.weight" => sequential = true,
                _ => {}
            }
        }
        if sequential {
            Self::Sequential
        } else {
            Self::Torchvision
        }
    }
}

fn strip_data_parallel(key: &str) -> &str {
    key.strip_prefix(DATA_PARALLEL).unwrap_or(key)
}

/// Replaces the first dotted component of `key` using `rename`, which returns `None` to drop
/// the key; a key whose head `rename` does not know is kept unchanged.
fn rename_head(key: &str, rename: impl Fn(&str) -> Option<Option<&'static str>>) -> Option<String> {
    let (head, rest) = key.split_once('.').unwrap_or((key, ""));
    match rename(head) {
        None => Some(key.to_owned()),
        Some(None) => None,
        Some(Some(new)) if rest.is_empty() => Some(new.to_owned()),
        Some(Some(new)) => Some(format!("{new}.{rest}")),
    }
}

/// The torchvision name of one key of a `layout` state dict, or `None` when the key is dropped
/// (the classifier `fc.*`).
#[must_use]
pub fn torchvision_key(key: &str, layout: Layout) -> Option<String> {
    let key = strip_data_parallel(key);
    let renamed = match layout {
        Layout::Torchvision => key.to_owned(),
        Layout::Sequential => rename_head(key, |head| {
            CHILDREN
                .iter()
                .find(|(_, index)| *index == head)
                .map(|(name, _)| Some(*name))
        })?,
    };
    let classifier = renamed.split_once('.').map_or(renamed.as_str(), |(h, _)| h) == CLASSIFIER;
    (!classifier).then_some(renamed)
}

/// The reference `nn.Sequential` name of one torchvision key, or `None` when the reference has
/// no place for it (the classifier `fc.*`, which `children()[:-1]` cuts off).
#[must_use]
pub fn reference_key(key: &str) -> Option<String> {
    rename_head(key, |head| {
        if head == CLASSIFIER {
            return Some(None);
        }
        CHILDREN
            .iter()
            .find(|(name, _)| *name == head)
            .map(|(_, index)| Some(*index))
    })
}

/// A stream state dict in torchvision names, from any layout in the module table. Applied
/// where checkpoints are loaded; torchvision input comes back unchanged (without `fc.*`).
pub fn to_torchvision<T>(state_dict: impl IntoIterator<Item = (String, T)>) -> BTreeMap<String, T> {
    let entries: Vec<(String, T)> = state_dict.into_iter().collect();
    let layout = Layout::of(entries.iter().map(|(k, _)| k.as_str()));
    entries
        .into_iter()
        .filter_map(|(key, value)| torchvision_key(&key, layout).map(|k| (k, value)))
        .collect()
}

/// A torchvision-named stream state dict under the reference's `nn.Sequential` names (the
/// inverse of [`to_torchvision`] for the reference layout), for writing the reference's files.
pub fn to_reference<T>(state_dict: impl IntoIterator<Item = (String, T)>) -> BTreeMap<String, T> {
    state_dict
        .into_iter()
        .filter_map(|(key, value)| reference_key(&key).map(|k| (k, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ResNet18's stream keys in torchvision names (no `fc`), as our training writes them.
    fn torchvision_stream() -> Vec<String> {
        let mut keys = vec!["conv1.weight".to_owned()];
        let bn = [
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked",
        ];
        keys.extend(bn.iter().map(|t| format!("bn1.{t}")));
        for stage in 1..=4 {
            for block in 0..2 {
                let p = format!("layer{stage}.{block}");
                for conv in ["conv1", "conv2"] {
                    keys.push(format!("{p}.{conv}.weight"));
                }
                for norm in ["bn1", "bn2"] {
                    keys.extend(bn.iter().map(|t| format!("{p}.{norm}.{t}")));
                }
                if stage > 1 && block == 0 {
                    keys.push(format!("{p}.downsample.0.weight"));
                    keys.extend(bn.iter().map(|t| format!("{p}.downsample.1.{t}")));
                }
            }
        }
        keys
    }

    fn dict(keys: &[String]) -> BTreeMap<String, usize> {
        keys.iter()
            .cloned()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect()
    }

    #[test]
    fn each_key_maps_to_its_reference_child() {
        let cases = [
            ("conv1.weight", "0.weight"),
            ("bn1.running_var", "1.running_var"),
            ("layer1.0.conv1.weight", "4.0.conv1.weight"),
            ("layer2.0.downsample.1.bias", "5.0.downsample.1.bias"),
            ("layer3.1.bn2.running_var", "6.1.bn2.running_var"),
            (
                "layer4.1.bn2.num_batches_tracked",
                "7.1.bn2.num_batches_tracked",
            ),
        ];
        for (tv, reference) in cases {
            assert_eq!(reference_key(tv).as_deref(), Some(reference), "{tv}");
            assert_eq!(
                torchvision_key(reference, Layout::Sequential).as_deref(),
                Some(tv),
                "{reference}"
            );
            assert_eq!(
                torchvision_key(tv, Layout::Torchvision).as_deref(),
                Some(tv)
            );
        }
    }

    #[test]
    fn reference_layout_round_trips() {
        let tv = dict(&torchvision_stream());
        let reference = to_reference(tv.clone());
        assert!(reference.contains_key("0.weight") && reference.contains_key("7.1.bn2.bias"));
        assert!(reference.keys().all(|k| !k.starts_with("layer")));
        assert_eq!(
            Layout::of(reference.keys().map(String::as_str)),
            Layout::Sequential
        );
        assert_eq!(to_torchvision(reference.clone()), tv);
        assert_eq!(to_reference(to_torchvision(reference.clone())), reference);
    }

    #[test]
    fn torchvision_layout_is_kept_and_its_classifier_dropped() {
        let tv = dict(&torchvision_stream());
        let mut with_fc = tv.clone();
        with_fc.insert("fc.weight".into(), 1000);
        with_fc.insert("fc.bias".into(), 1001);
        assert_eq!(
            Layout::of(with_fc.keys().map(String::as_str)),
            Layout::Torchvision
        );
        assert_eq!(to_torchvision(with_fc.clone()), tv);
        // The reference has no place for the classifier either.
        assert_eq!(to_reference(with_fc), to_reference(tv));
    }

    #[test]
    fn data_parallel_prefix_is_removed() {
        // Places365: `{'state_dict': {'module.conv1.weight', ..., 'module.fc.weight'}}`.
        let tv = dict(&torchvision_stream());
        let places: BTreeMap<String, usize> = tv
            .iter()
            .map(|(k, v)| (format!("module.{k}"), *v))
            .chain([("module.fc.weight".to_owned(), 9999)])
            .collect();
        assert_eq!(to_torchvision(places), tv);
        // A DataParallel-wrapped reference stream too.
        let wrapped: BTreeMap<String, usize> = to_reference(tv.clone())
            .into_iter()
            .map(|(k, v)| (format!("module.{k}"), v))
            .collect();
        assert_eq!(to_torchvision(wrapped), tv);
    }

    #[test]
    fn unknown_keys_are_kept_for_the_caller_to_report() {
        let mut tv = dict(&torchvision_stream());
        tv.insert("9.weight".into(), 1);
        tv.insert("extra".into(), 2);
        let reference = to_reference(tv.clone());
        assert_eq!(reference.get("9.weight"), Some(&1));
        assert_eq!(reference.get("extra"), Some(&2));
        let mut seq = to_reference(dict(&torchvision_stream()));
        seq.insert("8.weight".into(), 3);
        assert_eq!(to_torchvision(seq).get("8.weight"), Some(&3));
        // Nothing to tell the layout by: nothing is renamed.
        let empty: BTreeMap<String, usize> = BTreeMap::new();
        assert!(to_torchvision(empty).is_empty());
        assert_eq!(Layout::of(["x.weight"]), Layout::Torchvision);
    }
}
