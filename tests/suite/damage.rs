//! Damaged input never panics or hangs: every capture of the fixtures and of
//! the shared corpus, cut short at many offsets, with bytes flipped, with
//! length fields set huge and with stretches duplicated. Where a cut leaves
//! whole records before it, they are all still reported.

use std::path::{Path, PathBuf};

use overlay_trace::analyze::{analyze_with, Analysis, AnalyzeOptions};
use overlay_trace::capture::{sniff, Capture, Format};

use super::common::{corpus, fixtures, walk};

/// Deterministic pseudo-random numbers (no extra crate, same every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn analyze_bytes(name: &Path, bytes: &[u8]) -> Analysis {
    let owned = bytes.to_vec();
    analyze_with(&[name.to_path_buf()], &AnalyzeOptions::default(), |p| {
        Capture::from_reader_sized(p, Box::new(std::io::Cursor::new(owned.clone())), 64 << 10)
    })
}

/// Start offsets of every packet record, as the reader reports them.
fn record_offsets(name: &Path, bytes: &[u8]) -> Vec<u64> {
    let mut cap = match Capture::from_reader_sized(name, Box::new(std::io::Cursor::new(bytes.to_vec())), 64 << 10) {
        Ok(c) => c,
        Err(_) => return Vec::new(),
    };
    let mut v = Vec::new();
    while let Ok(Some(ev)) = cap.next_event() {
        v.push(ev.offset);
    }
    v
}

fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(&fixtures());
    if let Some(c) = corpus() {
        files.extend(walk(&c));
    }
    // Every file: the captures, and the rest (text, YAML, JSON), which
    // must be refused cleanly however they are cut.
    files
}

fn is_etl(bytes: &[u8]) -> bool {
    sniff(&bytes[..bytes.len().min(0x50)]) == Some(Format::Etl)
}

/// ETL files above this get fewer cuts and flips here (debug runs are
/// slow on multi-megabyte ETLs); the ETL reader's own damage tests cut and
/// flip their first megabyte at many more offsets.
const ETL_LIMIT: usize = 400 << 10;

fn check_message(name: &Path, a: &Analysis, what: &str) {
    if let Some(msg) = &a.captures[0].error {
        let file = name.file_name().unwrap().to_str().unwrap();
        assert!(
            msg.contains(file) && (msg.contains("@0x") || msg.contains("first bytes") || msg.contains("is empty")),
            "{what}: {msg}"
        );
    }
}

#[test]
fn truncated_anywhere() {
    let files = captures();
    let expected = if corpus().is_some() { 300 } else { 80 };
    assert!(files.len() >= expected, "only {} captures found", files.len());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let etl = is_etl(&bytes);
        let big = etl && bytes.len() > ETL_LIMIT;
        let whole = analyze_bytes(path, &bytes);
        let starts = record_offsets(path, &bytes);
        let steps = if big { 6 } else { 40 };
        let mut cuts: Vec<usize> = (1..steps).map(|k| bytes.len() * k / steps).collect();
        cuts.extend([1, 7, 23, 24, 25, bytes.len().saturating_sub(1), bytes.len().saturating_sub(3)]);
        for cut in cuts {
            if cut >= bytes.len() {
                continue;
            }
            let a = analyze_bytes(path, &bytes[..cut]);
            let got = a.captures[0].packets;
            // A record is surely whole when the next one starts before the cut.
            // (ETL records come in time order, not file order, and share the
            // offset of their compressed buffer: the ETL reader's own tests
            // check what survives a cut.)
            let whole_before = if etl { 0 } else { starts.windows(2).filter(|w| w[1] as usize <= cut).count() as u64 };
            let what = format!("{} cut at {cut}", path.display());
            assert!(got <= whole.captures[0].packets, "{what}: more packets than the whole file");
            assert!(got >= whole_before, "{what}: {got} packets, but {whole_before} ended before the cut");
            check_message(path, &a, &what);
        }
    }
}

#[test]
fn flipped_bytes_huge_lengths_duplicated_blocks() {
    let mut rng = Lcg(0x5eed);
    for path in captures() {
        let bytes = std::fs::read(&path).unwrap();
        if bytes.is_empty() {
            continue;
        }
        let rounds = if is_etl(&bytes) && bytes.len() > ETL_LIMIT { 4 } else { 24 };
        for round in 0..rounds {
            let mut b = bytes.clone();
            let what = format!("{} round {round}", path.display());
            match round % 4 {
                0 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
                1 => {
                    // A length-sized field, aligned, set huge.
                    let i = rng.below(b.len() / 4) * 4;
                    let end = (i + 4).min(b.len());
                    b[i..end].copy_from_slice(&[0xF0, 0xFF, 0xFF, 0x7F][..end - i]);
                }
                2 => {
                    let from = rng.below(b.len());
                    let len = rng.below((b.len() - from).min(4096)) + 1;
                    let copy = b[from..from + len].to_vec();
                    let at = rng.below(b.len());
                    b.splice(at..at, copy);
                }
                _ => {
                    let i = rng.below(b.len());
                    let len = rng.below((b.len() - i).min(64)) + 1;
                    for x in &mut b[i..i + len] {
                        *x = rng.next() as u8;
                    }
                }
            }
            let a = analyze_bytes(&path, &b);
            check_message(&path, &a, &what);
        }
    }
}

/// Inputs the fuzzers found crashes with, kept so the fixes stay: each must
/// be analyzed without a panic.
#[test]
fn fuzz_regressions() {
    let dir = super::common::crate_root().join("tests/data/fuzz-regressions");
    let files = walk(&dir);
    assert!(!files.is_empty());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        // analyze-timestamp-overflow.etl: an ETL whose clock fields put two
        // records at opposite ends of the i64 range; the correlator's
        // time differences overflowed.
        let a = analyze_bytes(&path, &bytes);
        check_message(&path, &a, "fuzz regression");
    }
}
