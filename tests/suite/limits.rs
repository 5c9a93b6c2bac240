//! Limits on what a report keeps: past `max_flows` a capture's packets are
//! still counted, in no flow, and the report says so.

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::report::Report;

#[test]
fn flows_past_the_limit_are_counted_in_none_and_reported() {
    let dir = std::env::temp_dir().join(format!("overlay-trace-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mix.pcapng");
    mix::write(std::fs::File::create(&path).unwrap(), &MixOptions { seed: 5, concurrent_flows: 200, size: 4 << 20 })
        .unwrap();
    let report = |max_flows, threads| {
        let opts = AnalyzeOptions { max_flows, threads, ..AnalyzeOptions::default() };
        Report::from_analysis(&analyze(std::slice::from_ref(&path), &opts))
    };
    let all = report(0, 0);
    assert!(all.flows.len() > 300, "only {} flows", all.flows.len());
    let packets = |r: &Report| r.flows.iter().map(|f| f.packets_fwd + f.packets_rev).sum::<u64>();
    for threads in [1, 2] {
        let capped = report(100, threads);
        // The first hundred flows, whole; the rest of the packets beyond.
        assert_eq!(
            serde_json::to_value(&capped.flows).unwrap(),
            serde_json::to_value(&all.flows[..100]).unwrap(),
            "{threads} threads"
        );
        let beyond = packets(&all) - packets(&capped);
        let note = capped.health.warnings.iter().find(|w| w.contains("--max-flows"));
        assert!(
            note.is_some_and(|n| n.starts_with(&format!("{beyond} packets ("))),
            "{threads} threads: {:?}",
            capped.health.warnings
        );
        assert_eq!(capped.captures, all.captures, "the captures still count every packet");
    }
    assert!(!all.health.warnings.iter().any(|w| w.contains("--max-flows")));
    let _ = std::fs::remove_dir_all(&dir);
}
