//! The swarm generator read back to its ground truth: every packet's path
//! (verdict, hops with their times, points, NBL pointers and tuples), the
//! NAT rewrites, the drops and the hop-latency percentiles of the ETL's
//! analysis, and the flows of the host NIC's pcapng.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::generate::swarm::{self, SwarmOptions};
use overlay_trace::report::Report;

/// A directory removed when the test is done with it.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("overlay-trace-swarm-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Generated {
    etl: PathBuf,
    pcapng: PathBuf,
    truth: Value,
    summary: String,
}

fn generate(dir: &Path, opts: &SwarmOptions) -> Generated {
    let etl = dir.join("swarm.etl");
    let truth_path = dir.join("swarm.truth.json");
    let summary = swarm::write(&etl, &truth_path, opts).unwrap();
    let truth = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    Generated { pcapng: etl.with_extension("pcapng"), etl, truth, summary }
}

fn report_of(path: &Path) -> Value {
    report_with(path, &AnalyzeOptions::default())
}

fn report_with(path: &Path, opts: &AnalyzeOptions) -> Value {
    let a = analyze(&[path.to_path_buf()], opts);
    assert!(!a.has_damage(), "{}: {:?}", path.display(), a.health.warnings());
    serde_json::to_value(Report::from_analysis(&a)).unwrap()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().unwrap_or_else(|| panic!("no array '{key}'"))
}

/// A hop in the truth's terms (the report adds `vni`).
fn hop(h: &Value) -> Value {
    json!({
        "ts": h["ts"], "kind": h["kind"], "point": h["point"], "nbl": h["nbl"],
        "switch": h["switch"], "to": h["to"], "tuple": h["tuple"],
    })
}

fn check_paths(what: &str, report: &Value, truth: &Value) {
    let packets = array(truth, "packets");
    let paths = array(report, "paths");
    assert!(packets.len() < 10_000, "{what}: more packets than the report lists");
    let by_first: HashMap<&str, &Value> = paths.iter().map(|p| (p["hops"][0]["ts"].as_str().unwrap(), p)).collect();
    assert_eq!(by_first.len(), paths.len(), "{what}: two paths start at one time");
    for (i, p) in packets.iter().enumerate() {
        let first = p["hops"][0]["ts"].as_str().unwrap();
        let r = by_first.get(first).unwrap_or_else(|| panic!("{what}: packet {i} (first hop {first}) has no path"));
        let ours: Vec<Value> = array(r, "hops").iter().map(hop).collect();
        let expected = array(p, "hops");
        // Kinds, points and pointers first, for a readable failure.
        let brief = |hs: &[Value]| -> Vec<(String, String, String)> {
            hs.iter().map(|h| (h["kind"].to_string(), h["point"].to_string(), h["nbl"].to_string())).collect()
        };
        assert_eq!(brief(&ours), brief(expected), "{what}: packet {i} at {first}");
        assert_eq!(&ours, expected, "{what}: packet {i} at {first}");
        assert_eq!(r["verdict"], p["verdict"], "{what}: packet {i} at {first}");
    }
    assert_eq!(paths.len(), packets.len(), "{what}: paths the truth does not know");
}

type Mapping = (String, String, String);

fn mappings(rows: &[Value]) -> BTreeMap<Mapping, u64> {
    let mut m = BTreeMap::new();
    for r in rows {
        let key = (r["before"].to_string(), r["after"].to_string(), r["point"].to_string());
        *m.entry(key).or_insert(0) += r["packets"].as_u64().unwrap();
    }
    m
}

/// Precision and recall of the NAT section, over distinct mappings and
/// over rewritten packets.
fn check_nat(what: &str, report: &Value, truth: &Value) {
    let ours = mappings(array(report, "nat"));
    let expected = mappings(array(truth, "nat"));
    assert!(!expected.is_empty(), "{what}: no NAT in the truth");
    let keys = |m: &BTreeMap<Mapping, u64>| m.keys().cloned().collect::<BTreeSet<_>>();
    let common = keys(&ours).intersection(&keys(&expected)).count() as f64;
    let (precision, recall) = (common / ours.len().max(1) as f64, common / expected.len() as f64);
    assert!(precision >= 0.999 && recall >= 0.999, "{what}: mappings precision {precision}, recall {recall}");
    let matched: u64 = expected.iter().map(|(k, n)| (*n).min(ours.get(k).copied().unwrap_or(0))).sum();
    let (n_ours, n_expected) = (ours.values().sum::<u64>(), expected.values().sum::<u64>());
    let (precision, recall) = (matched as f64 / n_ours.max(1) as f64, matched as f64 / n_expected as f64);
    assert!(precision >= 0.999 && recall >= 0.999, "{what}: rewrites precision {precision}, recall {recall}");
    // Every NATed packet of the truth has its rewrite in its hops' tuples.
    let rewritten = array(truth, "packets").iter().filter(|p| !p["nat"].is_null()).count() as u64;
    assert_eq!(rewritten, n_expected, "{what}");
}

fn check_drops(what: &str, report: &Value, truth: &Value) {
    let count = |rows: &[Value], with_place: bool| {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for d in rows {
            let mut key = json!([d["by"], d["reason"], d["reason_code"]]);
            if with_place {
                key = json!([key, d["ts"], d["point"]]);
            }
            *m.entry(key.to_string()).or_insert(0) += 1;
        }
        m
    };
    let (ours, expected) = (array(report, "drops"), array(truth, "drops"));
    assert!(!expected.is_empty(), "{what}: no drops in the truth");
    assert_eq!(count(ours, false), count(expected, false), "{what}: drops by (by, reason, code)");
    assert_eq!(count(ours, true), count(expected, true), "{what}: drops by time and place");
    let codes = expected.iter().filter(|d| !d["reason_code"].is_null()).count();
    assert!(codes > 0 && codes < expected.len(), "{what}: both kinds of drop");
}

fn check_latency(what: &str, report: &Value, truth: &Value) {
    let keyed = |rows: &[Value]| -> BTreeMap<(String, String), Value> {
        rows.iter().map(|l| ((l["from"].to_string(), l["to"].to_string()), l.clone())).collect()
    };
    let (ours, expected) = (keyed(array(report, "latency")), keyed(array(truth, "latency")));
    assert_eq!(ours.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{what}: latency keys");
    for (k, e) in &expected {
        let o = &ours[k];
        assert_eq!(o["count"], e["count"], "{what}: {k:?}");
        for f in ["p50_us", "p90_us", "p99_us", "max_us"] {
            let (a, b) = (o[f].as_f64().unwrap(), e[f].as_f64().unwrap());
            assert!((a - b).abs() < 0.001, "{what}: {k:?} {f}: report {a}, truth {b}");
        }
    }
}

/// The pcapng holds what the host adapter saw: its flows are the truth's.
fn check_host_view(what: &str, report: &Value, truth: &Value) {
    let project = |f: &Value| {
        let t = &f["tunnel"];
        let tunnel = if t.is_null() {
            Value::Null
        } else {
            json!({
                "kind": t["kind"], "vni": t["vni"], "outer_src": t["outer_src"],
                "outer_src_port": t["outer_src_port"], "outer_dst": t["outer_dst"],
                "outer_dst_port": t["outer_dst_port"],
            })
        };
        json!({
            "proto": f["proto"], "src": f["src"], "src_port": f["src_port"], "dst": f["dst"],
            "dst_port": f["dst_port"], "tunnel": tunnel, "packets_fwd": f["packets_fwd"],
            "packets_rev": f["packets_rev"], "bytes_fwd": f["bytes_fwd"], "bytes_rev": f["bytes_rev"],
        })
    };
    assert_eq!(report["captures"][0]["packets"], truth["pcapng_packets"], "{what}");
    let ours: Vec<Value> = array(report, "flows").iter().map(project).collect();
    let expected = array(truth, "flows");
    assert_eq!(ours.len(), expected.len(), "{what}: flows");
    for (o, e) in ours.iter().zip(expected) {
        assert_eq!(o, e, "{what}");
    }
    let tunneled = expected.iter().filter(|f| !f["tunnel"].is_null()).count();
    assert!(tunneled > 0 && tunneled < expected.len(), "{what}: NAT and VXLAN flows");
}

#[test]
fn swarm_reads_back_to_its_truth() {
    let dir = TempDir::new("matrix");
    let all = Instant::now();
    for seed in [1, 2, 3] {
        for cpus in [2, 4] {
            for compress in [false, true] {
                let what = format!("seed {seed}, {cpus} CPUs, compress {compress}");
                let t0 = Instant::now();
                let opts = SwarmOptions { seed, flows: 64, size: 2 << 20, cpus, compress };
                let g = generate(&dir.0, &opts);
                let t1 = Instant::now();
                let report = report_of(&g.etl);
                let health = &report["health"];
                assert_eq!(health["warnings"], json!([]), "{what}");
                assert_eq!((&health["events_lost"], &health["buffers_lost"]), (&json!(0), &json!(0)), "{what}");
                assert_eq!(report["captures"][0]["events"], g.truth["etl_events"].as_u64().unwrap() + 1, "{what}");
                check_paths(&what, &report, &g.truth);
                check_nat(&what, &report, &g.truth);
                check_drops(&what, &report, &g.truth);
                check_latency(&what, &report, &g.truth);
                let t2 = Instant::now();
                check_host_view(&what, &report_of(&g.pcapng), &g.truth);
                eprintln!(
                    "{what}: generate {:?}, analyze+check {:?}, pcapng {:?}: {}",
                    t1 - t0,
                    t2 - t1,
                    t2.elapsed(),
                    g.summary
                );
            }
        }
    }
    eprintln!("swarm matrix: {:?}", all.elapsed());
}

/// A cap on open paths far below what the capture has in flight closes
/// the oldest early: memory stays bounded, the user is told, and since the
/// oldest paths are long finished the analysis is still the truth.
#[test]
fn capped_open_state_still_reads_back_to_its_truth() {
    let dir = TempDir::new("capped");
    let g = generate(&dir.0, &SwarmOptions { seed: 4, flows: 64, size: 2 << 20, cpus: 2, compress: false });
    let opts = AnalyzeOptions { max_open: 200, ..AnalyzeOptions::default() };
    let report = report_with(&g.etl, &opts);
    let warnings = report["health"]["warnings"].to_string();
    assert!(warnings.contains("closed before their time window ended: more than 200"), "{warnings}");
    let what = "max_open 200";
    check_paths(what, &report, &g.truth);
    check_nat(what, &report, &g.truth);
    check_drops(what, &report, &g.truth);
    check_latency(what, &report, &g.truth);
}

#[test]
fn same_options_same_files_and_compression_changes_only_the_etl() {
    let dir = TempDir::new("determinism");
    let files = |tag: &str, compress: bool| {
        let d = dir.0.join(tag);
        std::fs::create_dir_all(&d).unwrap();
        let g = generate(&d, &SwarmOptions { seed: 7, flows: 8, size: 96 << 10, cpus: 3, compress });
        (std::fs::read(&g.etl).unwrap(), std::fs::read(&g.pcapng).unwrap(), g.truth)
    };
    let (etl_a, pcap_a, truth_a) = files("a", false);
    let (etl_b, pcap_b, truth_b) = files("b", false);
    assert!(etl_a == etl_b && pcap_a == pcap_b && truth_a == truth_b, "not deterministic");
    let (etl_c, pcap_c, truth_c) = files("c", true);
    assert!(etl_c.len() < etl_a.len());
    assert!(pcap_c == pcap_a);
    assert_eq!(truth_c["packets"], truth_a["packets"]);
    assert_eq!(truth_c["latency"], truth_a["latency"]);
    assert_eq!(truth_c["etl_events"], truth_a["etl_events"]);
}

#[test]
fn unwritable_output_is_an_error() {
    let dir = TempDir::new("unwritable");
    let missing = dir.0.join("no/such/dir/swarm.etl");
    let opts = SwarmOptions { seed: 1, flows: 2, size: 10_000, cpus: 2, compress: false };
    assert!(swarm::write(&missing, &dir.0.join("truth.json"), &opts).is_err());
    let etl = dir.0.join("swarm.etl");
    assert!(swarm::write(&etl, &dir.0.join("no/such/truth.json"), &opts).is_err());
    let none = SwarmOptions { cpus: 0, ..opts };
    assert!(swarm::write(&etl, &dir.0.join("truth.json"), &none).is_err());
}
