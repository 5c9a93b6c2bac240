//! Limits on what a report keeps: past `max_flows` a capture's packets are
//! still counted, in no flow, and the report says so.

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::report::Report;

#[test]
fn flows_past_the_limit_are_counted_in_none_and_reported() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
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
            serde_json::to_value(&all.flows.to_vec()[..100]).unwrap(),
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
}

/// A capture of `flows` one-packet UDP flows, then a packet of every
/// seventh flow again (in reverse, from the last), as a pcapng.
fn many_flows(path: &std::path::Path, flows: u32) {
    use overlay_trace::event::LinkType;
    use overlay_trace::report::pcapng::{EpbOptions, PcapNgWriter};
    use overlay_trace::time::Timestamp;
    let mut w = PcapNgWriter::new(std::fs::File::create(path).unwrap(), "limits test").unwrap();
    let eth = w.add_interface("eth0", LinkType::ETHERNET, 65535).unwrap();
    let frame = |i: u32, reply: bool| {
        let (a, b) = ([10, 1, (i >> 8) as u8, i as u8], [10, 2, 0, 1]);
        let (src, dst, sp, dp) =
            if reply { (b, a, 53, 1024 + (i % 5000) as u16) } else { (a, b, 1024 + (i % 5000) as u16, 53) };
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .udp(sp, dp)
            .write(&mut v, b"q")
            .unwrap();
        v
    };
    let again = (0..flows).rev().step_by(7);
    for (n, (i, reply)) in (0..flows).map(|i| (i, false)).chain(again.map(|i| (i, true))).enumerate() {
        let f = frame(i, reply);
        w.write_packet(eth, Timestamp(1_000_000_000 + n as i64 * 1000), &f, f.len() as u32, &EpbOptions::default())
            .unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn flows_waiting_in_the_temporary_file_are_reported_as_if_never_there() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("many.pcapng");
    many_flows(&path, 6000);
    let json = |in_memory, threads, freeing: bool| {
        let opts = AnalyzeOptions { in_memory, threads, ..AnalyzeOptions::default() };
        let mut a = analyze(std::slice::from_ref(&path), &opts);
        let r = if freeing { Report::from_analysis_taking_lists(&mut a) } else { Report::from_analysis(&a) };
        serde_json::to_string(&r).unwrap()
    };
    let in_memory = json(0, 1, false);
    let value: serde_json::Value = serde_json::from_str(&in_memory).unwrap();
    let flows = value["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 6000);
    let replies = |i: usize| flows[i]["packets_rev"].as_u64();
    assert_eq!((replies(0), replies(7), replies(8), replies(5999)), (Some(1), Some(1), Some(0), Some(1)));
    // One chunk of flows in memory: every seventh flow, from the last, is
    // read back from the file when its reply comes.
    for threads in [1, 2] {
        for freeing in [false, true] {
            assert!(json(1, threads, freeing) == in_memory, "{threads} threads, freeing {freeing}");
        }
    }
}
