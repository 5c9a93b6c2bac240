//! Every capture of the corpus's conformance/ folder is read with the packet
//! count capinfos reports; where capinfos stops with an error we stop too,
//! after the same packets, with a message naming the file and byte offset.
//! Golden: tests/golden/conformance-counts.tsv, made by
//! `sh tests/golden/make_conformance_counts.sh ../shared/corpus`.

use std::path::PathBuf;

use overlay_trace::analyze::{analyze, analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::report::Report;

use super::common::{corpus, crate_root};

struct Expected {
    file: String,
    packets: u64,
    error: bool,
}

fn expectations() -> Vec<Expected> {
    let text = std::fs::read_to_string(crate_root().join("tests/golden/conformance-counts.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Expected { file: c[0].to_string(), packets: c[1].parse().unwrap(), error: c[2] == "error" }
        })
        .collect()
}

fn check_all(read_size: usize) {
    let Some(corpus) = corpus() else {
        eprintln!("note: ../shared/corpus is absent; conformance files not checked");
        return;
    };
    let mut failures = Vec::new();
    let exp = expectations();
    assert!(exp.len() > 80);
    for e in &exp {
        let path: PathBuf = corpus.join(&e.file);
        let a = analyze_with(std::slice::from_ref(&path), &AnalyzeOptions::default(), |p| {
            let f = std::fs::File::open(p).map_err(|err| overlay_trace::error::CaptureError::io(p, err))?;
            Capture::from_reader_sized(p, Box::new(f), read_size)
        });
        let c = &a.captures[0];
        let got_error = c.error.is_some();
        if c.packets != e.packets || got_error != e.error {
            failures.push(format!(
                "{}: {} packets, error {:?}; capinfos: {} packets, error {}",
                e.file, c.packets, c.error, e.packets, e.error
            ));
        }
        if let Some(msg) = &c.error {
            let named = msg.contains(path.file_name().unwrap().to_str().unwrap());
            let located = msg.contains("@0x") || msg.contains("first bytes are");
            if !named || !located {
                failures.push(format!("{}: message lacks file or offset: {msg}", e.file));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn packet_counts_equal_capinfos() {
    check_all(4 << 20);
}

/// Tiny reads force a refill inside every header and block.
#[test]
fn packet_counts_do_not_depend_on_read_size() {
    check_all(7);
}

#[test]
fn second_section_with_bad_version_keeps_the_first() {
    let Some(corpus) = corpus() else { return };
    let path = corpus.join("conformance/gopacket/google_gopacket_le__test901.pcapng");
    let a = analyze(&[path], &AnalyzeOptions::default());
    let msg = a.captures[0].error.as_deref().unwrap();
    assert!(msg.contains("section version: 2.0") && msg.contains("@0x1ec"), "{msg}");
    assert_eq!(a.captures[0].packets, 1);
}

/// if_tsresol 2^-8 (gopacket test902): the timestamp is exact in binary units.
#[test]
fn binary_timestamp_resolution() {
    let Some(corpus) = corpus() else { return };
    let path = corpus.join("conformance/gopacket/google_gopacket_le__test902.pcapng");
    let r = Report::from_analysis(&analyze(&[path], &AnalyzeOptions::default()));
    let ts = r.captures[0].first_seen.unwrap();
    // tshark -r test902 -T fields -e frame.time_epoch: 1519128000.195312500
    assert_eq!(ts.to_string(), "2018-02-20T12:00:00.195312500Z");
}
