//! ETL reading throughput: the container alone (buffers, records, xpress)
//! and through the event layer (provider decoding), on the largest corpus
//! ETLs when ../shared/corpus is present, else on the bundled fixture.
//! Run: `cargo bench --bench etl`.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use overlay_trace::capture::etl::EtlReader;
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

fn etl(c: &mut Criterion) {
    let mut g = c.benchmark_group("etl");
    g.sample_size(10);
    for path in inputs() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().chars().take(40).collect::<String>();
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

criterion_group!(benches, etl);
criterion_main!(benches);
