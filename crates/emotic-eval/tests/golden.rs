//! Checks against scikit-learn numbers from `tools/gen_eval_golden.py`.

use emotic_eval::{CATEGORIES, evaluate, jsonl, metrics};
use serde_json::Value;

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).expect("fixture")).expect("json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[test]
fn single_category_cases_match_sklearn() {
    let golden = load("golden_cases.json");
    let cases = golden["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let (labels, scores) = (floats(&c["labels"]), floats(&c["scores"]));
        let curve = metrics::precision_recall_curve(0, &labels, &scores).expect("curve");
        // The curve itself is exact: integer counts divided once in f64.
        assert_eq!(
            curve.precision,
            floats(&c["precision"]),
            "{name}: precision"
        );
        assert_eq!(curve.recall, floats(&c["recall"]), "{name}: recall");
        assert_eq!(
            curve.thresholds,
            floats(&c["thresholds"]),
            "{name}: thresholds"
        );
        let ap = metrics::average_precision(0, &labels, &scores).expect("ap");
        let want = c["average_precision"].as_f64().expect("ap");
        assert!(
            (ap - want).abs() <= 1e-14,
            "{name}: AP {ap} vs sklearn {want}"
        );
        let thr = metrics::equal_precision_recall_threshold(&curve);
        assert_eq!(
            f64::from(thr),
            c["threshold"].as_f64().expect("thr"),
            "{name}: threshold"
        );
        let voc = metrics::voc_interpolated_ap(0, &labels, &scores).expect("voc");
        let want = c["voc_ap"].as_f64().expect("voc");
        assert!(
            (voc - want).abs() <= 1e-14,
            "{name}: VOC AP {voc} vs {want}"
        );
    }
}

#[test]
fn special_cases_have_the_documented_values() {
    let golden = load("golden_cases.json");
    let find = |n: &str| {
        golden["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .cloned()
            .unwrap()
    };
    // No positives: sklearn 1.9.1 returns AP 0.0 and nothing has precision == recall.
    let c = find("no_positives");
    assert_eq!(c["average_precision"].as_f64(), Some(0.0));
    assert_eq!(
        metrics::average_precision(0, &floats(&c["labels"]), &floats(&c["scores"])).unwrap(),
        0.0
    );
    // Highest score negative: precision = recall = 0 there, and it is the only match.
    let c = find("highest_score_negative");
    let curve =
        metrics::precision_recall_curve(0, &floats(&c["labels"]), &floats(&c["scores"])).unwrap();
    assert_eq!(metrics::equal_precision_recall_threshold(&curve), 0.9_f32);
}

#[test]
fn full_set_matches_reference_test_py() {
    let golden = load("golden_full.json");
    let preds = jsonl::read_jsonl(&data("val_preds.jsonl")).expect("preds");
    let labels = jsonl::read_jsonl(&data("val_labels.jsonl")).expect("labels");
    let report = evaluate(
        &preds.cat,
        &labels.cat,
        Some((preds.vad.as_ref().unwrap(), labels.vad.as_ref().unwrap())),
    )
    .expect("evaluate");
    assert_eq!(report.categories.len(), CATEGORIES.len());
    for (i, (c, want)) in report
        .categories
        .iter()
        .zip(floats(&golden["ap"]))
        .enumerate()
    {
        // float32 storage and numpy pairwise sums as in the reference: bit-exact.
        assert_eq!(f64::from(c.average_precision), want, "AP[{i}]");
    }
    assert_eq!(
        report
            .thresholds()
            .iter()
            .map(|&t| f64::from(t))
            .collect::<Vec<_>>(),
        floats(&golden["thresholds"])
    );
    assert_eq!(
        f64::from(report.mean_ap),
        golden["mean_ap"].as_f64().unwrap()
    );
    for (c, want) in report.categories.iter().zip(floats(&golden["voc_ap"])) {
        assert!((c.voc_interpolated_ap - want).abs() <= 1e-12);
    }
    let vad = report.vad.expect("vad");
    for (got, want) in vad.mean_absolute_error.iter().zip(floats(&golden["vad"])) {
        assert_eq!(f64::from(*got), want);
    }
    assert_eq!(f64::from(vad.mean), golden["mean_vad"].as_f64().unwrap());
    // Category 7 has no positives in the fixture.
    assert_eq!(report.categories[7].positives, 0);
    assert_eq!(report.categories[7].average_precision, 0.0);
}

#[test]
fn numpy_pairwise_sum_rounds_like_numpy() {
    // 0.1 summed 1000 times: numpy's pairwise sum gives exactly 100.00000000000001 (checked
    // with `np.sum(np.full(1000, 0.1))`), a naive loop 99.9999999999986.
    let v = vec![0.1_f64; 1000];
    assert_eq!(metrics::pairwise_sum_f64(&v), 100.00000000000001);
    assert_ne!(v.iter().sum::<f64>(), 100.00000000000001);
}

#[test]
fn bad_inputs_are_rejected() {
    assert!(matches!(
        metrics::average_precision(3, &[0.0, 0.5], &[0.1, 0.2]),
        Err(emotic_eval::Error::NonBinaryLabel {
            category: 3,
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        metrics::average_precision(0, &[0.0, 1.0], &[0.1, f64::NAN]),
        Err(emotic_eval::Error::NanScore { index: 1, .. })
    ));
    assert!(metrics::average_precision(0, &[1.0], &[0.1, 0.2]).is_err());
    assert!(jsonl::parse_jsonl("x", "{\"cat\": [1, 2]}\n").is_err());
    assert!(jsonl::parse_jsonl("x", "not json\n").is_err());
}

#[test]
fn report_renders_table_json_and_plots() {
    let preds = jsonl::read_jsonl(&data("val_preds.jsonl")).unwrap();
    let labels = jsonl::read_jsonl(&data("val_labels.jsonl")).unwrap();
    let report = evaluate(&preds.cat, &labels.cat, None).unwrap();
    let table = report.table();
    assert!(table.contains("Doubt/Confusion") && table.contains("Mean AP"));
    let json: Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(json["categories"].as_array().unwrap().len(), 26);
    let dir = tempfile::tempdir().unwrap();
    let files = report.write_pr_plots(dir.path()).unwrap();
    assert_eq!(files.len(), 26);
    let svg = std::fs::read_to_string(&files[9]).unwrap();
    assert!(
        files[9].ends_with("09_Doubt_Confusion.svg")
            && svg.starts_with("<svg")
            && svg.contains("polyline")
    );
}
