//! Throughput of each stage on a generated capture (VXLAN + plain flows):
//! walking pcapng blocks, decoding packets, and the whole `analyze` fold.
//! Run: `cargo bench --bench analyze`; CI runs `cargo bench -- --test`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::event::EventKind;
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::packet::{self, DecodeConfig};

fn capture_bytes(size: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size as usize + (1 << 20));
    mix::write(&mut bytes, &MixOptions { seed: 7, concurrent_flows: 2000, size }).expect("generate");
    bytes
}

fn open(bytes: &[u8], read_size: usize) -> Capture {
    let owned = bytes.to_vec();
    Capture::from_reader_sized(Path::new("bench.pcapng"), Box::new(std::io::Cursor::new(owned)), read_size).unwrap()
}

fn stages(c: &mut Criterion) {
    let bytes = capture_bytes(32 << 20);
    let mut g = c.benchmark_group("pcapng");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);

    g.bench_function("read_blocks", |b| {
        b.iter(|| {
            let mut cap = open(&bytes, 4 << 20);
            let mut n = 0u64;
            while let Ok(Some(_)) = cap.next_event() {
                n += 1;
            }
            n
        })
    });

    let cfg = DecodeConfig::default();
    g.bench_function("read_and_decode", |b| {
        b.iter(|| {
            let mut cap = open(&bytes, 4 << 20);
            let mut flows = 0u64;
            while let Ok(Some(ev)) = cap.next_event() {
                let EventKind::Packet(p) = &ev.kind else { continue };
                flows += packet::decode(p.link, p.data, &cfg).inner.is_some() as u64;
            }
            flows
        })
    });

    for read_size in [64 << 10, 1 << 20, 4 << 20] {
        g.bench_with_input(BenchmarkId::new("analyze", read_size), &read_size, |b, &rs| {
            b.iter(|| {
                let a = analyze_with(&[Path::new("bench.pcapng").to_path_buf()], &AnalyzeOptions::default(), |_| {
                    Ok(open(&bytes, rs))
                });
                a.flows.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
