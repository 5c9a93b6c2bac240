//! Decoding on several threads gives the report one thread gives: on
//! generated captures large enough for many batches, and on every capture
//! of the corpus and the fixtures (some define a second interface after
//! their first packets, which hands reading back to one thread). One thread
//! correlates every ETL event; several read an ETL's packets straight into
//! the flow table and start again at its first event that needs
//! correlating, so the ETLs check that both give the same report. With
//! several threads an ETL with switch events is read on one thread and
//! correlated on another, which must give the one-thread report too.

use std::path::{Path, PathBuf};

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::generate::capture::{self, CaptureOptions};
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::generate::swarm::{self, SwarmOptions};
use overlay_trace::report::Report;

use super::common::{corpus, fixtures, walk};

fn report(path: &Path, threads: usize) -> String {
    report_with(path, AnalyzeOptions { threads, ..AnalyzeOptions::default() })
}

fn report_with(path: &Path, opts: AnalyzeOptions) -> String {
    let a = analyze(&[path.to_path_buf()], &opts);
    serde_json::to_string_pretty(&Report::from_analysis(&a)).unwrap()
}

#[test]
fn threads_do_not_change_generated_reports() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (seed, flows, size) in [(1, 50, 6 << 20), (2, 400, 12 << 20), (3, 2000, 3 << 20)] {
        let path = dir.join(format!("mix-{seed}.pcapng"));
        let truth =
            mix::write(std::fs::File::create(&path).unwrap(), &MixOptions { seed, concurrent_flows: flows, size })
                .unwrap();
        assert!(truth.packets > 2 * 4096, "seed {seed}: only {} packets, fewer than a few batches", truth.packets);
        let one = report(&path, 1);
        for threads in [2, 3, 8] {
            assert!(one == report(&path, threads), "seed {seed}: {threads} threads differ from one");
        }
    }
    // The same traffic as a packet-capture-only ETL, compressed and not.
    for compress in [false, true] {
        let path = dir.join(format!("capture-{compress}.etl"));
        let mix = MixOptions { seed: 4, concurrent_flows: 300, size: 8 << 20 };
        let opts = CaptureOptions { mix, cpus: 2, compress };
        let (truth, _) = capture::write(std::fs::File::create(&path).unwrap(), &opts).unwrap();
        assert!(truth.packets > 2 * 4096, "only {} packets, fewer than a few batches", truth.packets);
        let one = report(&path, 1);
        assert!(one.contains("\"flows\": [\n    {"), "no flows in {}", path.display());
        for threads in [2, 8] {
            assert!(one == report(&path, threads), "{}: {threads} threads differ from one", path.display());
        }
    }
}

#[test]
fn threads_do_not_change_capture_reports() {
    let mut files: Vec<PathBuf> = walk(&fixtures());
    if let Some(c) = corpus() {
        files.extend(walk(&c));
    }
    let captures: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            let head = std::fs::read(p).map(|b| b.get(..4).map(|h| h.to_vec())).ok().flatten();
            let etl = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("etl"));
            etl || matches!(
                head.as_deref(),
                Some([0x0a, 0x0d, 0x0d, 0x0a])
                    | Some([0xd4, 0xc3, 0xb2, 0xa1])
                    | Some([0xa1, 0xb2, 0xc3, 0xd4])
                    | Some([0x4d, 0x3c, 0xb2, 0xa1])
                    | Some([0xa1, 0xb2, 0x3c, 0x4d])
                    | Some([0x1f, 0x8b, _, _])
            )
        })
        .collect();
    assert!(captures.len() > 20, "found only {} captures", captures.len());
    assert!(captures.iter().any(|p| p.extension().is_some_and(|e| e == "etl")), "no ETL among the captures");
    for path in &captures {
        assert!(report(path, 1) == report(path, 2), "{}: two threads differ from one", path.display());
    }
}

/// Reading a swarm ETL on one thread while another correlates its events
/// gives the paths of one thread, which it only does if every event
/// reaches the correlator in its place: NBL events bind to the packet
/// fragments that follow them on their CPU.
#[test]
fn two_stage_correlation_gives_the_one_thread_report() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for compress in [false, true] {
        let path = dir.join(format!("swarm-{compress}.etl"));
        let opts = SwarmOptions { seed: 5, flows: 64, size: 8 << 20, cpus: 2, compress };
        swarm::write(&path, &dir.join("truth.json"), &opts).unwrap();
        let one = report(&path, 1);
        let parsed: serde_json::Value = serde_json::from_str(&one).unwrap();
        let (events, paths) = (&parsed["captures"][0]["events"], &parsed["paths"]);
        assert!(events.as_u64().unwrap_or(0) > 10_000, "{}: only {events} events, few batches", path.display());
        assert!(paths.as_array().is_some_and(|p| p.len() > 500), "{}: few paths followed", path.display());
        for threads in [0, 2] {
            assert!(one == report(&path, threads), "{}: {threads} threads differ from one", path.display());
        }
        // Past --max-open the oldest half of the paths close at once, and
        // the correlating stage folds them when it would wait for the
        // reading one, at most a quarter of them left waiting: in the
        // same order, so still the report of one thread.
        let capped =
            |threads| report_with(&path, AnalyzeOptions { threads, max_open: 64, ..AnalyzeOptions::default() });
        let one = capped(1);
        assert!(one.contains("closed before their time window ended"), "{}: no paths closed early", path.display());
        assert!(one == capped(2), "{}: two threads differ from one with --max-open 64", path.display());
    }
}
