//! ETL container reader: counts against dissect.etl goldens, ordering,
//! streaming equivalence, and damage (cuts, byte flips, lying lengths).
//!
//! The corpus lives outside the repository (`../shared/corpus`); when it is
//! absent these tests print a note and pass.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use overlay_trace::capture::etl::{BufferHeader, EtlOptions, EtlReader, EtlRecord, EtlStats, HeaderKind};
use overlay_trace::error::DecodeError;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/etl");

fn corpus_etls() -> Option<Vec<PathBuf>> {
    let root = Path::new(CORPUS).join("etl");
    if !root.is_dir() {
        eprintln!("note: {} not present; ETL corpus tests skipped", root.display());
        return None;
    }
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "etl") {
                out.push(p);
            }
        }
    }
    out.sort();
    Some(out)
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The golden key of a record (see tests/golden/etl_counts.py).
fn key(r: &EtlRecord) -> String {
    let guid = |g: Option<_>| g.map_or("-".to_string(), |g: overlay_trace::capture::etl::Guid| g.to_string());
    match r.header_kind {
        HeaderKind::Event => format!("{}:{}", guid(r.provider), r.id),
        HeaderKind::Classic | HeaderKind::InstanceGuid => format!("classic:{}/{}", guid(r.provider), r.opcode),
        HeaderKind::System | HeaderKind::CompactSystem | HeaderKind::Perfinfo => {
            let (g, t) = r.kernel_group_type.unwrap();
            format!("kernel:{g}/{t}")
        }
        HeaderKind::Message => format!("wpp:{}/{}", guid(r.provider), r.id),
    }
}

struct ReadAll {
    records: Vec<EtlRecord>,
    error: Option<DecodeError>,
    warnings: Vec<DecodeError>,
    stats: EtlStats,
}

fn read_all<R: Read>(input: R, opts: EtlOptions) -> Result<ReadAll, DecodeError> {
    let mut r = EtlReader::with_options(input, opts)?;
    let mut records = Vec::new();
    let mut error = None;
    let mut warnings = Vec::new();
    while let Some(item) = r.next_record() {
        match item {
            Ok(rec) => records.push(rec),
            Err(e) => {
                assert!(error.is_none(), "a fatal error is returned once");
                error = Some(e);
            }
        }
        warnings.extend(r.take_warnings());
    }
    assert!(r.next_record().is_none(), "None stays None");
    warnings.extend(r.take_warnings());
    Ok(ReadAll { records, error, warnings, stats: r.stats() })
}

/// Buffers by walking the chain of BufferSize fields: (offset, size).
fn buffer_chain(data: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 0x48 <= data.len() {
        let h = BufferHeader::parse(&data[off..off + 0x48], off as u64).unwrap();
        if h.check(off as u64).is_err() {
            break;
        }
        out.push((off as u64, h.buffer_size as u64));
        off += h.buffer_size as usize;
    }
    out
}

fn id_of(r: &EtlRecord) -> (u64, u32) {
    (r.buffer_offset, r.in_buffer)
}

#[test]
fn counts_match_dissect_golden() {
    let Some(files) = corpus_etls() else { return };
    assert_eq!(files.len(), 25, "corpus ETL count changed; regenerate goldens (tests/golden/etl/README.md)");
    let mut failures = Vec::new();
    for path in &files {
        let stem = name(path).trim_end_matches(".etl").to_string();
        let golden_path = Path::new(GOLDEN).join(format!("{stem}.counts.json"));
        let golden: serde_json::Value = match std::fs::read_to_string(&golden_path) {
            Ok(s) => serde_json::from_str(&s).unwrap(),
            Err(e) => {
                failures.push(format!("{}: no golden ({e})", golden_path.display()));
                continue;
            }
        };
        let file = std::fs::File::open(path).unwrap();
        let all = read_all(std::io::BufReader::new(file), EtlOptions::default()).unwrap();
        assert!(all.error.is_none(), "{}: {:?}", name(path), all.error);
        assert!(all.warnings.is_empty(), "{}: {:?}", name(path), all.warnings);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
        for r in &all.records {
            *counts.entry(key(r)).or_default() += 1;
            *kinds.entry(r.header_kind.name().to_string()).or_default() += 1;
        }
        let want: BTreeMap<String, u64> =
            golden["counts"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
        let want_kinds: BTreeMap<String, u64> =
            golden["kinds"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
        if counts != want || kinds != want_kinds {
            let diff: Vec<String> = want
                .keys()
                .chain(counts.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|k| want.get(*k) != counts.get(*k))
                .map(|k| format!("{k}: golden {:?} ours {:?}", want.get(k), counts.get(k)))
                .collect();
            failures.push(format!("{}: {}", name(path), diff.join("; ")));
        }
        assert_eq!(all.records.len() as u64, golden["total"].as_u64().unwrap(), "{}", name(path));
        assert_eq!(all.stats.buffers_read, golden["buffers"].as_u64().unwrap(), "{}", name(path));
        assert_eq!(all.stats.records, all.records.len() as u64);
    }
    assert!(failures.is_empty(), "count mismatches:\n{}", failures.join("\n"));
}

#[test]
fn records_come_out_in_time_order_and_inside_the_session() {
    let Some(files) = corpus_etls() else { return };
    for path in &files {
        let data = std::fs::read(path).unwrap();
        // A window larger than the file: a full sort, so nothing is late.
        let opts = EtlOptions { window_buffers: 1 << 20, ..EtlOptions::default() };
        let all = read_all(&data[..], opts).unwrap();
        assert_eq!(all.stats.late_records, 0, "{}", name(path));
        assert!(all.records.windows(2).all(|w| w[0].ts <= w[1].ts), "{}", name(path));
        // The default window: same records, in order but for counted late ones.
        let dflt = read_all(&data[..], EtlOptions::default()).unwrap();
        let behind = dflt.records.windows(2).filter(|w| w[1].ts < w[0].ts).count() as u64;
        assert!(behind <= dflt.stats.late_records, "{}", name(path));
        let mut a: Vec<_> = all.records.iter().map(id_of).collect();
        let mut b: Vec<_> = dflt.records.iter().map(id_of).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{}", name(path));
        // Converted times sit in the session (one minute of slack: relogged
        // files stamp their own start).
        let r = EtlReader::new(&data[..]).unwrap();
        let h = r.header();
        let slack = 60_000_000_000i64;
        let first = all.records.first().unwrap().ts;
        let last = all.records.last().unwrap().ts;
        assert!(h.start_time.0 - slack <= first.0, "{}: {first} before start {}", name(path), h.start_time);
        if h.end_time.0 > 0 {
            assert!(last.0 <= h.end_time.0 + slack, "{}: {last} after end {}", name(path), h.end_time);
        }
    }
}

/// A reader that hands out at most `.1` bytes per call.
struct Dribble<'a>(&'a [u8], usize);
impl Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.1).min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn tiny_reads_and_tiny_windows_give_the_same_records() {
    let Some(files) = corpus_etls() else { return };
    for path in files.iter().filter(|p| std::fs::metadata(p).unwrap().len() < 400_000) {
        let data = std::fs::read(path).unwrap();
        let base = read_all(&data[..], EtlOptions::default()).unwrap();
        let tiny = read_all(Dribble(&data, 7), EtlOptions::default()).unwrap();
        assert_eq!(base.records, tiny.records, "{}", name(path));
        let one =
            read_all(&data[..], EtlOptions { window_buffers: 1, window_bytes: 1, ..EtlOptions::default() }).unwrap();
        let mut a: Vec<_> = base.records.iter().map(id_of).collect();
        let mut b: Vec<_> = one.records.iter().map(id_of).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{}", name(path));
    }
}

#[test]
fn pktmon_packets_decompress_with_payload() {
    let path = Path::new(CORPUS).join("etl/pktmon/microsoft_demikernel__PktMon.etl");
    let Ok(data) = std::fs::read(&path) else {
        eprintln!("note: {} not present; skipped", path.display());
        return;
    };
    let all = read_all(&data[..], EtlOptions::default()).unwrap();
    let packets: Vec<_> = all
        .records
        .iter()
        .filter(|r| r.provider.is_some_and(|g| g.to_string() == "4d4f80d9-c8bd-4d73-bb5b-19c90402c5ac") && r.id == 160)
        .collect();
    assert_eq!(packets.len(), 114);
    assert!(packets.iter().all(|r| r.compressed && r.user_data.len() >= 34));
    // PktMon 160: ... OriginalPayloadSize u16 @30, LoggedPayloadSize u16 @32, frame @34.
    for p in &packets {
        let logged = u16::from_le_bytes([p.user_data[32], p.user_data[33]]) as usize;
        assert_eq!(p.user_data.len(), 34 + logged);
    }
    assert_eq!(all.stats.compressed_buffers, 2);
    let h = EtlReader::new(&data[..]).unwrap().header().clone();
    assert_eq!(h.pointer_size, 8);
    assert!(all.records.iter().all(|r| r.ts >= h.start_time));
}

/// A compressed ETL of a few hundred small buffers (many read-ahead
/// batches), written by the generator.
fn generated_compressed() -> Vec<u8> {
    use overlay_trace::generate::swarm::{self, SwarmOptions};
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let etl = dir.join("swarm.etl");
    let opts = SwarmOptions { seed: 3, flows: 32, size: 3 << 20, cpus: 4, compress: true };
    swarm::write(&etl, &dir.join("swarm.truth.json"), &opts).unwrap();
    std::fs::read(&etl).unwrap()
}

fn assert_same_reading(a: &Result<ReadAll, DecodeError>, b: &Result<ReadAll, DecodeError>, what: &str) {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert!(a.records == b.records, "{what}: records differ ({} vs {})", a.records.len(), b.records.len());
            assert_eq!(a.warnings, b.warnings, "{what}");
            assert_eq!(a.error, b.error, "{what}");
            assert_eq!(a.stats, b.stats, "{what}");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{what}"),
        _ => panic!("{what}: one reading opened the file, the other did not"),
    }
}

/// Decoding ahead on rayon's pool changes nothing: the same records in the
/// same order, the same warnings, statistics and error as decoding each
/// buffer inline, on every corpus file and a generated compressed one,
/// whole, cut, damaged (so that read-ahead guesses wrong and starts over),
/// and read a few bytes at a time.
#[test]
fn parallel_and_inline_decoding_read_the_same() {
    let mut inputs: Vec<(String, Vec<u8>)> =
        corpus_etls().unwrap_or_default().iter().map(|p| (name(p), std::fs::read(p).unwrap())).collect();
    inputs.push(("generated swarm (compressed)".to_string(), generated_compressed()));
    let inline = EtlOptions { parallel: false, ..EtlOptions::default() };
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    for (file, whole) in &inputs {
        let chain = buffer_chain(whole);
        let mut variants = vec![("whole".to_string(), whole.clone())];
        for _ in 0..3 {
            let cut = rng.below(whole.len() as u64) as usize;
            variants.push((format!("cut @{cut:#x}"), whole[..cut].to_vec()));
        }
        for trial in 0..4 {
            let mut bad = whole.clone();
            for _ in 0..1 + rng.below(6) {
                // Every other trial hits buffer headers, the others
                // anywhere (mostly compressed data in compressed files).
                let at = if trial % 2 == 0 && !chain.is_empty() {
                    let (o, _) = chain[rng.below(chain.len() as u64) as usize];
                    o as usize + rng.below(0x48) as usize
                } else {
                    rng.below(whole.len() as u64) as usize
                };
                bad[at] ^= 1 << rng.below(8);
            }
            variants.push((format!("damaged {trial}"), bad));
        }
        for (what, data) in &variants {
            let par = read_all(&data[..], EtlOptions::default());
            let one = read_all(&data[..], inline);
            assert_same_reading(&par, &one, &format!("{file}, {what}"));
        }
        if whole.len() < 400_000 {
            let par = read_all(Dribble(whole, 7), EtlOptions::default());
            let one = read_all(&whole[..], inline);
            assert_same_reading(&par, &one, &format!("{file}, 7-byte reads"));
        }
    }
}

/// Deterministic xorshift, no crate needed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the damage tests work on: the whole file when small, else its
/// first buffers up to about 1 MB (so that a debug build re-reads it many
/// times quickly); the big files' later buffers get a few whole-file trials.
fn subject(data: &[u8]) -> &[u8] {
    const LIMIT: u64 = 1 << 20;
    if data.len() as u64 <= LIMIT + LIMIT / 4 {
        return data;
    }
    let chain = buffer_chain(data);
    let end = chain.iter().map(|(o, s)| o + s).filter(|&e| e <= LIMIT).max();
    let end = end.unwrap_or(chain.first().map_or(data.len() as u64, |(o, s)| o + s));
    &data[..end as usize]
}

#[test]
fn cut_files_keep_everything_before_the_cut() {
    let Some(files) = corpus_etls() else { return };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    for path in &files {
        let whole = std::fs::read(path).unwrap();
        let data = subject(&whole);
        let full = read_all(data, EtlOptions::default()).unwrap();
        let chain = buffer_chain(data);
        let mut cuts: Vec<usize> = vec![0, 1, 0x47, 0x48, 0x100];
        for &(off, size) in chain.iter().take(4) {
            cuts.extend([off as usize, (off + size) as usize - 1, (off + size / 2) as usize, off as usize + 0x47]);
        }
        for _ in 0..12 {
            cuts.push(rng.below(data.len() as u64) as usize);
        }
        for cut in cuts.into_iter().filter(|&c| c <= data.len()) {
            let t = Instant::now();
            let part = &data[..cut];
            let Ok(got) = read_all(part, EtlOptions::default()) else {
                // Only a cut inside the header buffer may refuse the file.
                assert!(cut < chain[0].1 as usize, "{} cut @{cut:#x}: open failed", name(path));
                continue;
            };
            assert!(t.elapsed() < Duration::from_secs(20), "{} cut @{cut:#x} too slow", name(path));
            let complete: BTreeSet<u64> = chain.iter().filter(|(o, s)| o + s <= cut as u64).map(|(o, _)| *o).collect();
            let want: BTreeSet<_> =
                full.records.iter().filter(|r| complete.contains(&r.buffer_offset)).map(id_of).collect();
            let have: BTreeSet<_> = got.records.iter().map(id_of).collect();
            assert!(want.is_subset(&have), "{} cut @{cut:#x}: lost records of complete buffers", name(path));
            // Nothing invented: every record read was in the whole file.
            let all_ids: BTreeSet<_> = full.records.iter().map(id_of).collect();
            assert!(have.is_subset(&all_ids), "{} cut @{cut:#x}: records not in the full file", name(path));
            let at_boundary = chain.iter().any(|(o, s)| o + s == cut as u64);
            if !at_boundary {
                let e = got.error.as_ref().unwrap_or_else(|| panic!("{} cut @{cut:#x}: no error", name(path)));
                assert!(e.offset <= cut as u64, "{} cut @{cut:#x}: error names {e}", name(path));
            }
        }
    }
    eprintln!("cut test: {:?}", started.elapsed());
}

#[test]
fn flipped_bytes_never_panic_and_damage_stays_local() {
    let Some(files) = corpus_etls() else { return };
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let started = Instant::now();
    for path in &files {
        let whole = std::fs::read(path).unwrap();
        let small = subject(&whole).len() == whole.len();
        // Big files: most trials on their first megabyte, two on the whole.
        let variants: Vec<(&[u8], usize)> =
            if small { vec![(&whole[..], 24)] } else { vec![(subject(&whole), 24), (&whole[..], 2)] };
        for (data, trials) in variants {
            let full = read_all(data, EtlOptions::default()).unwrap();
            let chain = buffer_chain(data);
            for trial in 0..trials {
                let mut bad = data.to_vec();
                let flips = 1 + rng.below(if trial % 3 == 0 { 64 } else { 4 });
                let mut first = usize::MAX;
                for _ in 0..flips {
                    // Half of the flips land in buffer headers, where they hurt most.
                    let at = if rng.below(2) == 0 && !chain.is_empty() {
                        let (o, _) = chain[rng.below(chain.len() as u64) as usize];
                        o as usize + rng.below(0x48) as usize
                    } else {
                        rng.below(data.len() as u64) as usize
                    };
                    bad[at] ^= 1 << rng.below(8);
                    first = first.min(at);
                }
                let t = Instant::now();
                let Ok(got) = read_all(&bad[..], EtlOptions::default()) else {
                    assert!(first < chain[0].1 as usize, "{} trial {trial}: open failed", name(path));
                    continue;
                };
                assert!(t.elapsed() < Duration::from_secs(20), "{} trial {trial} too slow", name(path));
                // Buffers wholly before the first flipped byte read as before.
                // (The header buffer holds the clock and counts: skip the check
                // when it was hit.)
                if first >= chain[0].1 as usize {
                    let intact: BTreeSet<u64> =
                        chain.iter().filter(|(o, s)| o + s <= first as u64).map(|(o, _)| *o).collect();
                    let want: Vec<_> = full.records.iter().filter(|r| intact.contains(&r.buffer_offset)).collect();
                    let have: BTreeMap<_, _> = got.records.iter().map(|r| (id_of(r), r)).collect();
                    for w in want {
                        let h = have.get(&id_of(w)).unwrap_or_else(|| {
                            panic!("{} trial {trial}: record {:?} before damage @{first:#x} lost", name(path), id_of(w))
                        });
                        assert_eq!(*h, w);
                    }
                }
            }
        }
    }
    eprintln!("flip test: {:?}", started.elapsed());
}

#[test]
fn lying_buffer_size_is_skipped_and_reading_resyncs() {
    let path = Path::new(CORPUS).join("etl/airbus-cert_etl-parser__ShutdownPerfDiagLogger.etl");
    let Ok(mut data) = std::fs::read(&path) else {
        eprintln!("note: {} not present; skipped", path.display());
        return;
    };
    let full = read_all(&data[..], EtlOptions::default()).unwrap();
    let chain = buffer_chain(&data);
    let (victim, vsize) = chain[3];
    // BufferSize says 0x10: smaller than a header.
    data[victim as usize..victim as usize + 4].copy_from_slice(&0x10u32.to_le_bytes());
    let got = read_all(&data[..], EtlOptions::default()).unwrap();
    assert!(got.error.is_none());
    assert!(!got.warnings.is_empty());
    assert!(got.warnings.iter().any(|w| w.offset == victim), "{:?}", got.warnings);
    let lost: Vec<_> = full.records.iter().filter(|r| r.buffer_offset != victim).map(id_of).collect();
    let have: BTreeSet<_> = got.records.iter().map(id_of).collect();
    assert!(lost.iter().all(|id| have.contains(id)));
    assert_eq!(got.stats.buffers_skipped, 1);
    assert_eq!(got.stats.bytes_skipped, vsize);

    // A record whose size runs past its buffer ends that buffer only.
    let mut data2 = std::fs::read(&path).unwrap();
    let (b, _) = chain[5];
    let rec = b as usize + 0x48;
    // Records here are SYSTEM/PERFINFO: size is the u16 at +4.
    data2[rec + 4..rec + 6].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let got = read_all(&data2[..], EtlOptions::default()).unwrap();
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert_eq!(got.warnings[0].offset, rec as u64);
    assert!(got.warnings[0].to_string().contains("buffer 5"), "{}", got.warnings[0]);
    let others = full.records.iter().filter(|r| r.buffer_offset != b).count();
    assert_eq!(got.records.len(), others);
}

#[test]
fn trailing_filler_and_garbage_after_buffers_written() {
    let path = Path::new(CORPUS).join("etl/airbus-cert_etl-parser__lxcore_kernel.etl");
    let Ok(data) = std::fs::read(&path) else {
        eprintln!("note: {} not present; skipped", path.display());
        return;
    };
    let full = read_all(&data[..], EtlOptions::default()).unwrap();
    let mut ff = data.clone();
    ff.extend(std::iter::repeat_n(0xFFu8, 70_000));
    let got = read_all(&ff[..], EtlOptions::default()).unwrap();
    assert_eq!(got.records, full.records);
    assert!(got.warnings.is_empty() && got.error.is_none());

    let mut junk = data.clone();
    junk.extend((0..5000u32).map(|i| (i * 7 + 3) as u8));
    let got = read_all(&junk[..], EtlOptions::default()).unwrap();
    assert_eq!(got.records, full.records);
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert_eq!(got.warnings[0].offset, data.len() as u64);
}

#[test]
fn not_an_etl_is_refused_with_an_offset() {
    assert!(EtlReader::new(&b""[..]).is_err());
    assert!(EtlReader::new(&[0u8; 0x200][..]).is_err());
    let mut v = vec![0xFFu8; 0x400];
    v[0..4].copy_from_slice(&0x400u32.to_le_bytes());
    let e = EtlReader::new(&v[..]).err().unwrap();
    assert!(e.to_string().contains("header buffer"), "{e}");
}

/// Throughput and merge statistics on the largest corpus files; run with
/// `cargo test --release --test tests etl::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let Some(files) = corpus_etls() else { return };
    let mut files: Vec<_> = files.into_iter().map(|p| (std::fs::metadata(&p).unwrap().len(), p)).collect();
    files.sort();
    for (len, path) in files.iter().rev() {
        let data = std::fs::read(path).unwrap();
        let mut best = Duration::MAX;
        let mut n = 0u64;
        let mut stats = EtlStats::default();
        for _ in 0..5 {
            let t = Instant::now();
            let mut r = EtlReader::new(&data[..]).unwrap();
            n = 0;
            let mut bytes = 0usize;
            while let Some(rec) = r.next_record() {
                bytes += rec.unwrap().user_data.len();
                n += 1;
            }
            std::hint::black_box(bytes);
            best = best.min(t.elapsed());
            stats = r.stats();
        }
        let s = best.as_secs_f64();
        println!(
            "{:>9} B {:>7} rec {:>8.1} MB/s {:>10.0} rec/s  late {:>5} compressed {:>3}/{:<3}  {}",
            len,
            n,
            *len as f64 / s / 1e6,
            n as f64 / s,
            stats.late_records,
            stats.compressed_buffers,
            stats.buffers_read,
            name(path)
        );
    }
}

/// Late records against merge-window size; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn window_sweep() {
    let Some(files) = corpus_etls() else { return };
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let mut line = String::new();
        for w in [1usize, 8, 16, 32, 64, 128, 256, 1 << 20] {
            let opts = EtlOptions { window_buffers: w, ..EtlOptions::default() };
            let all = read_all(&data[..], opts).unwrap();
            line += &format!(" w{w}:{}", all.stats.late_records);
        }
        let r = EtlReader::new(&data[..]).unwrap();
        println!("{:<60} cpus {:>2}{line}", name(path), r.header().number_of_processors);
    }
}
