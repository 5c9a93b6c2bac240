//! CI regression on captures: `check` with the scenarios' expectation
//! files, `diff`, deliberate variants of scenario A, the JSON Schema of
//! report v1, and golden reports of every fixture.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::check::{evaluate, Expectations, Outcome};
use overlay_trace::generate::scenarios::{self, Reference, Variant};
use overlay_trace::report::Report;

use super::common::{crate_root, walk};

fn cmd() -> Command {
    Command::cargo_bin("overlay-trace").unwrap()
}

fn scenarios_dir() -> PathBuf {
    crate_root().join("fixtures/scenarios")
}

fn report_of(path: &Path) -> Report {
    Report::from_analysis(&analyze(&[path.to_path_buf()], &AnalyzeOptions::default()))
}

/// A variant of scenario A written into `dir` (a test's own temporary
/// directory, removed when the test ends, passed or not).
fn variant_file(dir: &tempfile::TempDir, v: Variant, name: &str) -> PathBuf {
    let path = dir.path().join(format!("{name}.etl"));
    let file = std::fs::File::create(&path).unwrap();
    scenarios::write_variant(Reference::RoutingMeshNat, v, file).unwrap();
    path
}

fn outcomes(capture: &Path) -> Vec<Outcome> {
    let e = Expectations::from_file(&scenarios_dir().join("routing-mesh-nat.expect.toml")).unwrap();
    evaluate(&e, &report_of(capture)).unwrap()
}

fn failed(o: &[Outcome]) -> Vec<(String, String)> {
    o.iter().filter(|x| !x.pass).map(|x| (x.assertion.clone(), x.observed.clone())).collect()
}

#[test]
fn every_scenario_passes_its_expectations() {
    for name in ["routing-mesh-nat", "vxlan-decap", "arp-drop-vfp"] {
        let dir = scenarios_dir();
        let out = cmd()
            .args(["check", dir.join(format!("{name}.etl")).to_str().unwrap()])
            .args(["--expect", dir.join(format!("{name}.expect.toml")).to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}:\n{text}");
        assert!(text.contains(" passed, 0 failed"), "{text}");
    }
}

#[test]
fn variants_fail_the_assertion_they_break() {
    let dir = tempfile::tempdir().unwrap();
    let dropped = failed(&outcomes(&variant_file(&dir, Variant::SynDropped, "syn-dropped")));
    assert!(
        dropped.iter().any(|(a, o)| a.starts_with("path tcp 92.234.68.72") && o.contains("verdict dropped")),
        "{dropped:?}"
    );
    assert!(dropped.iter().any(|(a, o)| a == "drop " && o.contains("Virtual Filtering Platform")), "{dropped:?}");

    let nat = failed(&outcomes(&variant_file(&dir, Variant::OtherNatPort, "other-nat-port")));
    assert!(
        nat.iter().any(|(a, o)| a.starts_with("nat tcp 92.234.68.72:53711") && o.contains("10.255.0.2:65409")),
        "{nat:?}"
    );

    let slow = failed(&outcomes(&variant_file(&dir, Variant::SlowSwitch, "slow-switch")));
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert!(slow[0].0.starts_with("latency max received@") && slow[0].1.starts_with("1201.2 µs"), "{slow:?}");

    let lost = failed(&outcomes(&variant_file(&dir, Variant::LostBuffer, "lost-buffer")));
    assert!(lost.iter().any(|(a, o)| a == "health buffers lost" && o == "1"), "{lost:?}");
}

#[test]
fn check_exit_status_json_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let variant = variant_file(&dir, Variant::SlowSwitch, "slow-switch-cli");
    let junit = variant.with_extension("xml");
    let out = cmd()
        .args(["check", variant.to_str().unwrap(), "-f", "json", "--junit", junit.to_str().unwrap()])
        .args(["--expect", scenarios_dir().join("routing-mesh-nat.expect.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["passed"].as_u64(), v["failed"].as_u64()), (Some(9), Some(1)));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"routing-mesh-nat.expect\" tests=\"10\" failures=\"1\">"), "{xml}");
    assert!(xml.contains("<failure message=\"expected at most 250 µs, observed 1201.2 µs over 2 samples\"/>"), "{xml}");
    // A broken expectation file is a usage error.
    let bad = variant.with_extension("toml");
    std::fs::write(&bad, "[[flow]]\nmatch = \"tcp nonsense\"\n").unwrap();
    let out = cmd().args(["check", variant.to_str().unwrap(), "--expect", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn diff_json(a: &Path, b: &Path) -> Vec<Value> {
    let out = cmd().args(["diff", "-f", "json", a.to_str().unwrap(), b.to_str().unwrap()]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["changes"].as_array().unwrap().clone()
}

fn kinds(changes: &[Value]) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = changes
        .iter()
        .map(|c| (c["category"].as_str().unwrap().to_string(), c["change"].as_str().unwrap().to_string()))
        .collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn diff_reports_exactly_the_change() {
    let dir = tempfile::tempdir().unwrap();
    // The reference side is a saved report, as a CI job keeps it.
    let saved = dir.path().join("known-good.json");
    let out = cmd().args(["analyze", "-f", "json"]).arg(scenarios_dir().join("routing-mesh-nat.etl")).output().unwrap();
    std::fs::write(&saved, &out.stdout).unwrap();

    assert!(diff_json(&saved, &scenarios_dir().join("routing-mesh-nat.etl")).is_empty());

    let slow = diff_json(&saved, &variant_file(&dir, Variant::SlowSwitch, "d-slow"));
    assert_eq!(kinds(&slow), [("latency".into(), "changed".into())]);
    assert!(slow.iter().any(|c| c["b"].as_str().unwrap().contains("max 1201.2 µs")));

    let nat = diff_json(&saved, &variant_file(&dir, Variant::OtherNatPort, "d-nat"));
    let changed: Vec<&Value> = nat.iter().filter(|c| c["category"] == "nat" && c["change"] == "changed").collect();
    assert_eq!(changed.len(), 1, "{nat:?}");
    assert_eq!(changed[0]["a"], "tcp 10.255.0.2:65408 -> 10.255.0.6:80");
    assert_eq!(changed[0]["b"], "tcp 10.255.0.2:65409 -> 10.255.0.6:80");
    assert!(kinds(&nat).iter().all(|(k, _)| k == "nat" || k == "flows" || k == "paths"), "{nat:?}");

    let dropped = diff_json(&saved, &variant_file(&dir, Variant::SynDropped, "d-drop"));
    assert!(dropped.iter().any(|c| c["category"] == "drops" && c["change"] == "appeared"));
    assert!(dropped.iter().any(|c| c["category"] == "paths"
        && c["change"] == "changed"
        && c["b"].as_str().unwrap().ends_with("(dropped)")));
    assert!(kinds(&dropped).iter().all(|(k, _)| k != "latency" && k != "health"), "{dropped:?}");

    let lost = diff_json(&saved, &variant_file(&dir, Variant::LostBuffer, "d-lost"));
    assert!(lost.iter().any(|c| c["category"] == "health" && c["what"] == "buffers lost" && c["b"] == "1"));

    // --fail-on chooses what makes the exit status 1.
    let slow_file = variant_file(&dir, Variant::SlowSwitch, "d-slow2");
    let code = |fail_on: &str| {
        cmd().args(["diff", "--fail-on", fail_on]).arg(&saved).arg(&slow_file).output().unwrap().status.code()
    };
    assert_eq!((code("drops,nat"), code("latency"), code("none")), (Some(0), Some(1), Some(0)));
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(crate_root().join("schemas/report-v1.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Every capture in fixtures/, analyzed: the JSON report validates against
/// the schema and equals its golden file (UPDATE_GOLDEN=1 rewrites them).
#[test]
fn fixture_reports_match_schema_and_golden() {
    let validator = schema();
    let root = crate_root();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let golden_dir = root.join("tests/golden/reports");
    let mut checked = 0;
    let mut stale = Vec::new();
    for file in walk(&root.join("fixtures")) {
        let rel = file.strip_prefix(&root).unwrap().to_path_buf();
        let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "pcap" | "pcapng" | "etl" | "cap" | "bin") {
            continue;
        }
        let report = Report::from_analysis(&analyze(std::slice::from_ref(&rel), &AnalyzeOptions::default()));
        let value = serde_json::to_value(&report).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", rel.display());
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let golden = golden_dir.join(rel.to_string_lossy().replace('/', "__") + ".json");
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&golden, &text).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
            stale.push(rel.display().to_string());
        }
        checked += 1;
    }
    assert!(checked >= 75, "only {checked} fixtures");
    assert!(stale.is_empty(), "reports differ from their golden files (UPDATE_GOLDEN=1 to accept): {stale:?}");
}

/// Reports of several captures at once and of the corpus validate too.
#[test]
fn other_reports_match_schema() {
    let dir = tempfile::tempdir().unwrap();
    let validator = schema();
    let mut inputs: Vec<Vec<PathBuf>> = vec![
        vec![scenarios_dir().join("routing-mesh-nat.etl"), scenarios_dir().join("arp-drop-vfp.etl")],
        vec![variant_file(&dir, Variant::SynDropped, "schema-drop")],
    ];
    if let Some(c) = super::common::corpus() {
        inputs.push(vec![
            c.join("nat/hamimbinkabir_nyupentest__nat.pcapng"),
            c.join("nat/ph2303_CS-GY-6843__nat.pcapng"),
        ]);
        inputs.push(vec![c.join("etl/pktmon/Dookisan_stmcast_server_client__PktMon.etl")]);
    }
    for paths in inputs {
        let value = serde_json::to_value(Report::from_analysis(&analyze(&paths, &AnalyzeOptions::default()))).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{paths:?}: {errors:?}");
    }
}
