//! ETL reading throughput: the container alone (buffers, records, xpress)
//! and through the event layer (provider decoding), on the largest corpus
//! ETLs when ../shared/corpus is present, else on the bundled fixture.
//! `xpress` times the MS-XCA decompressor alone over every compressed
//! buffer of the compressed inputs (throughput counts compressed bytes,
//! the unit of the "MB/s of input" target).
//! Run: `cargo bench --bench etl`.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use overlay_trace::capture::etl::{xpress, BufferHeader, EtlReader};
use overlay_trace::capture::Capture;

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/etl");
    let wanted = [
        "perfview/unzipped/microsoft_perfview__diaghub-dotnetcore3.1-win-x64-diagsession__diaghub.user_paged.1.etl",
        "perfview/unzipped/microsoft_perfview__net.4.5.2.x64.etl__net.4.5.2.x64.etl",
        "pktmon/Dookisan_stmcast_server_client__PktMon.etl",
    ];
    let found: Vec<PathBuf> = wanted.iter().map(|w| corpus.join(w)).filter(|p| p.is_file()).collect();
    if found.is_empty() {
        vec![root.join("fixtures/etl/microsoft_krabsetw__powershell.etl")]
    } else {
        found
    }
}

/// The file's name, cut to keep criterion's report lines readable.
fn short_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().chars().take(40).collect()
}

fn etl(c: &mut Criterion) {
    let mut g = c.benchmark_group("etl");
    g.sample_size(10);
    for path in inputs() {
        let bytes = std::fs::read(&path).unwrap();
        let name = short_name(&path);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("records", &name), &bytes, |b, bytes| {
            b.iter(|| {
                let mut r = EtlReader::new(&bytes[..]).unwrap();
                let mut n = 0u64;
                while let Some(Ok(_)) = r.next_record() {
                    n += 1;
                }
                n
            })
        });
        g.bench_with_input(BenchmarkId::new("events", &name), &bytes, |b, bytes| {
            b.iter(|| {
                let input = Box::new(std::io::Cursor::new(bytes.clone()));
                let mut cap = Capture::from_reader(Path::new("bench.etl"), input).unwrap();
                let mut n = 0u64;
                while let Ok(Some(_)) = cap.next_event() {
                    n += 1;
                }
                n
            })
        });
    }
    g.finish();
}

/// The compressed buffers of an ETL file: (compressed bytes after the
/// buffer header, decompressed length).
fn compressed_buffers(bytes: &[u8]) -> Vec<(&[u8], usize)> {
    const HEADER: usize = 0x48;
    let mut out = Vec::new();
    let mut off = 0usize;
    while let Some(head) = bytes.get(off..off + HEADER) {
        let Ok(h) = BufferHeader::parse(head, off as u64) else { break };
        if h.check(off as u64).is_err() {
            break;
        }
        let end = (off + h.buffer_size as usize).min(bytes.len());
        if h.is_compressed() {
            if let Ok(want) = h.decompressed_len(off as u64) {
                out.push((&bytes[off + HEADER..end], want));
            }
        }
        off += h.buffer_size as usize;
    }
    out
}

fn decompress(c: &mut Criterion) {
    let mut g = c.benchmark_group("xpress");
    g.sample_size(20);
    for path in inputs() {
        let bytes = std::fs::read(&path).unwrap();
        let buffers = compressed_buffers(&bytes);
        if buffers.is_empty() {
            continue;
        }
        let name = short_name(&path);
        let input: u64 = buffers.iter().map(|(b, _)| b.len() as u64).sum();
        g.throughput(Throughput::Bytes(input));
        g.bench_with_input(BenchmarkId::new("decompress", &name), &buffers, |b, buffers| {
            let mut out = Vec::new();
            b.iter(|| {
                let mut n = 0usize;
                for (input, want) in buffers {
                    xpress::decompress_into(input, &mut out, *want).unwrap();
                    n += out.len();
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, etl, decompress);
criterion_main!(benches);
