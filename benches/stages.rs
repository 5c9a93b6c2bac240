//! Each stage alone, its input prepared outside the timed loop: packet
//! decoding, the flow table, the correlator on a generated swarm ETL's
//! events, writing a switching host's report, and pcapng writing as
//! `convert` does it (alone and with the ETL reading in front). Whole
//! commands: `analyze.rs`, `etl.rs`, `scale.sh`.
//! Run: `cargo bench --bench stages`; CI runs it with `-- --test`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::capture::etl::providers::vmswitch::Text;
use overlay_trace::capture::Capture;
use overlay_trace::event::{Direction, EventKind, LinkType, NblEvent};
use overlay_trace::flow::FlowTable;
use overlay_trace::generate::capture::{self, CaptureOptions};
use overlay_trace::generate::mix::{MixOptions, MixSource};
use overlay_trace::generate::swarm::{self, SwarmOptions};
use overlay_trace::packet::{self, DecodeConfig, Decoded};
use overlay_trace::report::pcapng::{EpbOptions, PcapNgWriter};
use overlay_trace::report::table::{self, Style, TableOptions};
use overlay_trace::report::{Report, Section};
use overlay_trace::time::Timestamp;
use overlay_trace::trace::{CaptureInput, Correlator, Sighting};

/// The mix's frames: plain and VXLAN TCP, UDP and ICMP, 40 to 1500 bytes.
struct Frame {
    ts: Timestamp,
    direction: Direction,
    bytes: Vec<u8>,
}

fn mix_frames(size: u64) -> Vec<Frame> {
    let opts = MixOptions { seed: 7, concurrent_flows: 2000, size };
    let mut source = MixSource::new(&opts, "bench", |len| len as u64);
    let mut out = Vec::new();
    while let Some(p) = source.next_packet() {
        out.push(Frame { ts: p.ts, direction: p.direction, bytes: p.frame.to_vec() });
    }
    out
}

/// What `analyze` hands the correlator for an ETL.
enum Input {
    Capture(Box<CaptureInput>),
    Nbl(Timestamp, u32, Box<NblEvent>),
}

fn correlator_inputs(etl: &Path) -> Vec<Input> {
    let cfg = DecodeConfig::default();
    let mut cap = Capture::open(etl).unwrap();
    let mut names: Vec<Text> = Vec::new();
    let mut out = Vec::new();
    while let Some((ev, points)) = cap.next_with_points().unwrap() {
        let cpu = ev.etw.map(|r| r.cpu);
        match &ev.kind {
            EventKind::Nbl(n) => out.push(Input::Nbl(ev.ts, cpu.unwrap_or(0), Box::new(n.clone()))),
            EventKind::Packet(p) => {
                names.extend(points[names.len()..].iter().map(|pt| Text::intern(&pt.name)));
                let decoded = packet::decode(p.link, p.data, &cfg);
                let frame_len = p.orig_len.max(p.data.len() as u32);
                out.push(Input::Capture(Box::new(CaptureInput {
                    sighting: Sighting { ts: ev.ts, point: (0, ev.point), decoded, frame_len },
                    point_name: names[ev.point as usize].clone(),
                    cpu,
                    switch_nic: p.meta.switch_port.as_ref().map(|s| s.source_nic_name.clone()),
                    same_packet: None,
                    appearance: false,
                    drop: None,
                })));
            }
            _ => {}
        }
    }
    out
}

fn stages(c: &mut Criterion) {
    let frames = mix_frames(16 << 20);
    let frame_bytes: u64 = frames.iter().map(|f| f.bytes.len() as u64).sum();
    let cfg = DecodeConfig::default();

    let mut g = c.benchmark_group("packet");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(frame_bytes));
    g.bench_function("decode", |b| {
        b.iter(|| {
            frames
                .iter()
                .map(|f| packet::decode(LinkType::ETHERNET, &f.bytes, &cfg).inner.is_some() as u64)
                .sum::<u64>()
        })
    });
    g.finish();

    let decoded: Vec<Decoded> = frames.iter().map(|f| packet::decode(LinkType::ETHERNET, &f.bytes, &cfg)).collect();
    let mut g = c.benchmark_group("flow");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("observe", |b| {
        b.iter(|| {
            let mut table = FlowTable::new();
            for (f, d) in frames.iter().zip(&decoded) {
                table.observe(f.ts, (0, 0), d, f.bytes.len() as u32, None);
            }
            table.len()
        })
    });
    g.finish();

    let scratch = std::env::temp_dir().join(format!("overlay-trace-bench-stages-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let etl = scratch.join("swarm.etl");
    let opts = SwarmOptions { seed: 7, flows: 200, size: 4 << 20, cpus: 2, compress: false };
    swarm::write(&etl, &scratch.join("swarm.truth.json"), &opts).unwrap();
    let inputs = correlator_inputs(&etl);
    let mut g = c.benchmark_group("trace");
    g.sample_size(10);
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("correlate_swarm", |b| {
        // The correlator borrows what it is given, as from `analyze`'s
        // batches: the same inputs serve every iteration.
        let run = |inputs: &[Input]| {
            let mut correlator = Correlator::default();
            let mut paths = 0;
            for input in inputs {
                match input {
                    Input::Capture(c) => correlator.push_capture(c),
                    Input::Nbl(ts, cpu, ev) => correlator.push_nbl(*ts, *cpu, ev),
                }
                correlator.drain_closed(|_| paths += 1);
            }
            correlator.finish(|_| paths += 1);
            paths
        };
        b.iter(|| run(&inputs))
    });
    g.finish();

    // What `analyze` prints once it has read a capture: for a 1 GiB
    // switching host, 23 MB of tables, some 60 ms of a 0.9 s run.
    let etl = scratch.join("swarm-report.etl");
    let opts = SwarmOptions { seed: 7, flows: 200, size: 64 << 20, cpus: 2, compress: false };
    swarm::write(&etl, &scratch.join("swarm-report.truth.json"), &opts).unwrap();
    // Made as `analyze` makes it: the flows, NAT mappings and drops taken
    // from the analysis, their rows made as they are written. Most of them
    // wait in the temporary file, as on a host with more flows than
    // `--in-memory`.
    let opts = AnalyzeOptions { in_memory: 512, ..AnalyzeOptions::default() };
    let report = Report::from_analysis_taking_lists(&mut analyze(&[etl], &opts));
    let write_table = |style: Style, out: &mut Vec<u8>| {
        out.clear();
        let opts = TableOptions { style, fit_to_terminal: false };
        table::write(&report, &Section::ALL, opts, out).unwrap();
        out.len()
    };
    let mut out = Vec::new();
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(write_table(Style::Terminal, &mut out) as u64));
    g.bench_function("table_swarm", |b| b.iter(|| write_table(Style::Terminal, &mut out)));
    g.throughput(Throughput::Bytes(write_table(Style::Markdown, &mut out) as u64));
    g.bench_function("markdown_swarm", |b| b.iter(|| write_table(Style::Markdown, &mut out)));
    let write_json = |out: &mut Vec<u8>| {
        out.clear();
        overlay_trace::report::json::write(&report, out).unwrap();
        out.len()
    };
    g.throughput(Throughput::Bytes(write_json(&mut out) as u64));
    g.bench_function("json_swarm", |b| b.iter(|| write_json(&mut out)));
    g.finish();

    // The comment `convert` gives each ndiscap packet.
    let comment = "PID=4 TID=3148";
    let mut g = c.benchmark_group("convert");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(frame_bytes));
    g.bench_function("write_pcapng", |b| {
        let mut out = Vec::with_capacity(frame_bytes as usize * 2);
        b.iter(|| {
            out.clear();
            let mut w = PcapNgWriter::new(&mut out, "bench").unwrap();
            let iface = w.add_interface("eth:7:0", LinkType::ETHERNET, 65535).unwrap();
            for f in &frames {
                let epb = EpbOptions { direction: f.direction, comment: Some(comment), ..Default::default() };
                w.write_packet(iface, f.ts, &f.bytes, f.bytes.len() as u32, &epb).unwrap();
            }
            w.finish().unwrap();
            out.len()
        })
    });
    let etl = scratch.join("capture.etl");
    let mix = MixOptions { seed: 7, concurrent_flows: 2000, size: 16 << 20 };
    let file = std::io::BufWriter::new(std::fs::File::create(&etl).unwrap());
    capture::write(file, &CaptureOptions { mix, cpus: 2, compress: false }).unwrap();
    g.throughput(Throughput::Bytes(std::fs::metadata(&etl).unwrap().len()));
    g.bench_function("capture_etl", |b| {
        let mut out = Vec::with_capacity(frame_bytes as usize * 2);
        b.iter(|| {
            out.clear();
            let (stats, _) = overlay_trace::convert::convert(&etl, &mut out).unwrap();
            stats.packets
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, stages);
criterion_main!(benches);
