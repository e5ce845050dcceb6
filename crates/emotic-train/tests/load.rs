//! Loading the reference whole-module pickles and Places365-style `module.`-prefixed state
//! dicts, and writing them back out unchanged.

use std::path::PathBuf;

use emotic_spec::weight_keys::to_torchvision as torchvision_keys;
use emotic_train::model::{EmoticNet, ResNet};
use emotic_train::rng::Rng;
use emotic_train::trainer::device_for;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../emotic/tests/data/emotic_small")
        .join(name)
}

#[test]
fn reference_pickles_load_and_save_back_the_same_tensors() {
    let device = device_for("cpu").expect("cpu");
    let model = EmoticNet::from_files(
        &fixture("model_context1.pth"),
        &fixture("model_body1.pth"),
        Some(&fixture("model_emotic1.pth")),
        &mut Rng::new(0),
        &device,
    )
    .expect("reference model");
    for (file, saved) in [
        (
            "model_context1.pth",
            model.context.state_dict().expect("ctx"),
        ),
        ("model_body1.pth", model.body.state_dict().expect("body")),
    ] {
        let original =
            torchvision_keys(emotic_train::model::read_tensors(&fixture(file)).expect("read"));
        assert_eq!(
            original.keys().collect::<Vec<_>>(),
            saved.keys().collect::<Vec<_>>(),
            "{file}"
        );
        for (k, t) in &original {
            assert_eq!(t.data, saved[k].data, "{file}: {k}");
        }
    }
    let head = emotic_train::model::read_tensors(&fixture("model_emotic1.pth")).expect("head");
    let saved = model.head.state_dict().expect("head");
    for (k, t) in &head {
        assert_eq!(t.data, saved[k].data, "head {k}");
    }
}

#[test]
fn places365_style_state_dicts_drop_module_prefix_and_classifier() {
    let sd = emotic_train::model::read_tensors(&fixture("model_body1.pth")).expect("read");
    let mut places = torchvision_keys(sd)
        .into_iter()
        .map(|(k, v)| (format!("module.{k}"), v))
        .collect::<std::collections::BTreeMap<_, _>>();
    places.insert(
        "module.fc.weight".into(),
        emotic_weights::Tensor::from_f32(vec![365, 32], vec![0.0; 365 * 32]),
    );
    places.insert(
        "module.fc.bias".into(),
        emotic_weights::Tensor::from_f32(vec![365], vec![0.0; 365]),
    );
    let net = ResNet::load(&places, &device_for("cpu").expect("cpu")).expect("places-style");
    assert_eq!(net.feature_width(), 32);
    assert!(
        !net.state_dict()
            .expect("sd")
            .keys()
            .any(|k| k.starts_with("fc."))
    );
    assert!(
        ResNet::load(
            &std::collections::BTreeMap::new(),
            &device_for("cpu").expect("cpu")
        )
        .is_err()
    );
}
