//! The report: the answers to the user's questions, one section each, as a
//! plain data structure that every output format renders. Field names and
//! meanings follow `report-schema.md` (schema v1); renderers never look at
//! packets or bytes.

pub mod csv;
mod decimal;
pub mod events;
pub mod json;
pub mod pcapng;
pub mod rows;
pub mod table;
pub mod timeline;
pub mod values;

use std::str::FromStr;

use serde::Serialize;

use crate::analyze::Analysis;
use crate::flow::Flow;
pub use crate::packet::Endpoint;
use crate::packet::{TunnelHop, Tuple, TupleText};
use crate::time::Timestamp;
use crate::trace::summary::{Drop, Rewrite};
pub use rows::Rows;
pub use values::{Address, ProtoName};

/// The report's long lists, their rows made as they are written: see [`rows`].
pub type FlowRows = Rows<Flow, FlowRow>;
pub type NatRows = Rows<Rewrite, RewriteRow>;
pub type DropRows = Rows<Drop, DropRow>;

pub const SCHEMA: &str = "overlay-trace/report/v1";

/// The report's sections, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Section {
    Captures,
    Flows,
    Paths,
    Nat,
    Drops,
    Latency,
    Health,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Captures,
        Section::Flows,
        Section::Paths,
        Section::Nat,
        Section::Drops,
        Section::Latency,
        Section::Health,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::Captures => "captures",
            Section::Flows => "flows",
            Section::Paths => "paths",
            Section::Nat => "nat",
            Section::Drops => "drops",
            Section::Latency => "latency",
            Section::Health => "health",
        }
    }
}

impl FromStr for Section {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Section::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| format!("unknown section '{s}'"))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub schema: &'static str,
    pub captures: Vec<CaptureRow>,
    pub flows: FlowRows,
    /// One per packet seen more than once (several points, switch events,
    /// pktmon appearances).
    pub paths: Vec<PathRow>,
    pub nat: NatRows,
    pub drops: DropRows,
    pub latency: Vec<HopLatencyRow>,
    pub health: HealthRow,
}

/// "0xFFFF880A4600B370": lower-case prefix, upper-case digits, as
/// Windows tools print pointers.
fn nbl_text(nbl: Option<u64>) -> Option<String> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let p = nbl?;
    let mut text = String::with_capacity(18);
    text.push_str("0x");
    for shift in (0..16).rev() {
        text.push(DIGITS[(p >> (4 * shift)) as usize & 0xF] as char);
    }
    Some(text)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HopRow {
    pub ts: Timestamp,
    pub point: String,
    pub kind: &'static str,
    pub nbl: Option<String>,
    pub switch: Option<String>,
    pub to: Option<String>,
    pub tuple: Option<TupleRow>,
    pub vni: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathRow {
    pub flow_id: Option<u64>,
    pub verdict: &'static str,
    pub latency_us: f64,
    pub hops: Vec<HopRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RewriteRow {
    pub before: TupleRow,
    pub after: TupleRow,
    pub point: String,
    pub packets: u64,
    pub flow_ids: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DropRow {
    pub ts: Timestamp,
    pub point: String,
    pub by: String,
    pub reason: String,
    pub reason_code: Option<u32>,
    pub flow_id: Option<u64>,
    pub nbl: Option<String>,
}

impl From<&Rewrite> for RewriteRow {
    fn from(r: &Rewrite) -> Self {
        RewriteRow {
            before: TupleRow::from(&r.before),
            after: TupleRow::from(&r.after),
            point: r.point.clone(),
            packets: r.packets,
            flow_ids: r.flow_ids.clone(),
        }
    }
}

impl From<&Drop> for DropRow {
    fn from(d: &Drop) -> Self {
        DropRow {
            ts: d.ts,
            point: d.point.as_str().to_owned(),
            by: d.by.clone(),
            reason: d.reason.clone(),
            reason_code: d.reason_code,
            flow_id: d.flow_id,
            nbl: nbl_text(d.nbl),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HopLatencyRow {
    pub from: String,
    pub to: String,
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// Microseconds rounded to the nanosecond, so JSON shows 201.2, not 201.20000000001.
fn us(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn path_rows(s: &crate::trace::summary::Summary) -> Vec<PathRow> {
    s.paths
        .iter()
        .map(|lp| PathRow {
            flow_id: lp.flow_id,
            verdict: lp.path.verdict().name(),
            latency_us: us(lp.path.latency_us()),
            hops: lp
                .path
                .hops
                .iter()
                .map(|h| HopRow {
                    ts: h.ts,
                    // Copied as text: `to_string` would go through the
                    // formatter, a tenth of making ten thousand paths' rows.
                    point: h.point.as_str().to_owned(),
                    kind: h.kind.name(),
                    nbl: nbl_text(h.nbl),
                    switch: h.switch.as_ref().map(|s| s.as_str().to_owned()),
                    to: h.to.as_ref().map(|s| s.as_str().to_owned()),
                    tuple: h.tuple.as_ref().map(TupleRow::from),
                    vni: h.vni,
                })
                .collect(),
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CaptureRow {
    pub path: String,
    pub format: Option<&'static str>,
    pub packets: u64,
    pub events: u64,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// Capture points (pcapng interfaces) in file order.
    pub interfaces: Vec<String>,
    pub bytes_read: u64,
    /// Why reading stopped before the end, or null.
    pub error: Option<String>,
    /// With several captures: how far this capture's clock ran ahead of the
    /// first one's, as estimated from packets both saw; its times in the
    /// report are corrected by it. Null for the first capture and when no
    /// offset could be estimated.
    pub clock_offset_us: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TupleRow {
    pub proto: ProtoName,
    pub src: Address,
    pub src_port: Option<u16>,
    pub dst: Address,
    pub dst_port: Option<u16>,
}

/// "10.0.0.1:5 -> 10.0.0.2:80 TCP", as tables and timelines write a tuple.
impl std::fmt::Display for TupleRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (src, dst) = (Endpoint(self.src.0, self.src_port), Endpoint(self.dst.0, self.dst_port));
        TupleText { src, dst, proto: self.proto.0 }.fmt(f)
    }
}

impl TupleRow {
    /// Pushes the text [`Display`](std::fmt::Display) writes.
    pub fn push_to(&self, out: &mut String) {
        let (src, dst) = (Endpoint(self.src.0, self.src_port), Endpoint(self.dst.0, self.dst_port));
        TupleText { src, dst, proto: self.proto.0 }.push_to(out)
    }
}

impl From<&Tuple> for TupleRow {
    fn from(t: &Tuple) -> Self {
        TupleRow {
            proto: ProtoName(t.proto),
            src: Address(t.src),
            src_port: t.src_port(),
            dst: Address(t.dst),
            dst_port: t.dst_port(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TunnelRow {
    pub kind: &'static str,
    pub vni: u32,
    pub outer_src: Address,
    pub outer_src_port: u16,
    pub outer_dst: Address,
    pub outer_dst_port: u16,
}

impl From<&TunnelHop> for TunnelRow {
    fn from(h: &TunnelHop) -> Self {
        TunnelRow {
            kind: h.kind.name(),
            vni: h.vni,
            outer_src: Address(h.outer.src),
            outer_src_port: h.outer.src_port,
            outer_dst: Address(h.outer.dst),
            outer_dst_port: h.outer.dst_port,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TcpRow {
    pub state: &'static str,
    pub handshake_us: Option<f64>,
    pub retransmissions: u64,
    pub resets: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowRow {
    pub id: u64,
    pub proto: ProtoName,
    pub src: Address,
    pub src_port: Option<u16>,
    pub dst: Address,
    pub dst_port: Option<u16>,
    /// The tunnel directly around the inner packet, outer tuple of the fwd
    /// direction.
    pub tunnel: Option<TunnelRow>,
    /// The same tunnel as the first rev packet had it (outer ports differ by
    /// direction), or null when no rev packet was seen.
    pub tunnel_rev: Option<TunnelRow>,
    /// Every tunnel level, outermost first (more than one when nested).
    pub tunnels: Vec<TunnelRow>,
    pub packets_fwd: u64,
    pub packets_rev: u64,
    pub bytes_fwd: u64,
    pub bytes_rev: u64,
    /// Bytes of the innermost IP packets only (no link or tunnel headers).
    pub inner_ip_bytes_fwd: u64,
    pub inner_ip_bytes_rev: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub tcp: Option<TcpRow>,
    pub sightings: u64,
}

impl From<&Flow> for FlowRow {
    fn from(f: &Flow) -> Self {
        let t = TupleRow::from(&f.fwd);
        FlowRow {
            id: f.id,
            proto: t.proto,
            src: t.src,
            src_port: t.src_port,
            dst: t.dst,
            dst_port: t.dst_port,
            tunnel: f.tunnels_fwd.last().map(TunnelRow::from),
            tunnel_rev: f.tunnels_rev.as_ref().and_then(|v| v.last()).map(TunnelRow::from),
            tunnels: f.tunnels_fwd.iter().map(TunnelRow::from).collect(),
            packets_fwd: f.packets[0],
            packets_rev: f.packets[1],
            bytes_fwd: f.bytes[0],
            bytes_rev: f.bytes[1],
            inner_ip_bytes_fwd: f.inner_ip_bytes[0],
            inner_ip_bytes_rev: f.inner_ip_bytes[1],
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            tcp: f.tcp.as_ref().map(|t| TcpRow {
                state: t.state.name(),
                handshake_us: t.handshake_us(),
                retransmissions: t.retransmissions,
                resets: t.resets,
            }),
            sightings: f.sightings,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthRow {
    pub events_lost: u64,
    pub buffers_lost: u64,
    pub bytes_skipped: u64,
    /// Frames that carried no IP or ARP packet and so belong to no flow.
    pub packets_without_flow: u64,
    pub warnings: Vec<String>,
}

impl Report {
    /// [`from_analysis`](Self::from_analysis) that takes the flows, NAT
    /// mappings and drops out of `a`, their rows to be made as they are
    /// written: with hundreds of thousands of each, the rows are never all
    /// in memory, and most of what they are made of stays in the temporary
    /// file.
    pub fn from_analysis_taking_lists(a: &mut Analysis) -> Report {
        let flows = a.flows.take_flows();
        let (rewrites, drops) = a.paths.take_lists();
        let mut report = Report::from_analysis(a);
        report.flows = Rows::Stored(flows);
        report.nat = Rows::Stored(rewrites);
        report.drops = Rows::Stored(drops);
        report
    }

    pub fn from_analysis(a: &Analysis) -> Report {
        Report {
            schema: SCHEMA,
            captures: a
                .captures
                .iter()
                .map(|c| CaptureRow {
                    path: c.path.display().to_string(),
                    format: c.format.map(|f| f.name()),
                    packets: c.packets,
                    events: c.events,
                    first_seen: c.first_seen,
                    last_seen: c.last_seen,
                    interfaces: c.points.iter().map(|p| p.name.clone()).collect(),
                    bytes_read: c.bytes_read,
                    error: c.error.clone(),
                    clock_offset_us: c.clock_offset_ns.map(|ns| ns as f64 / 1000.0),
                })
                .collect(),
            flows: Rows::made_from(a.flows.store()),
            paths: path_rows(&a.paths),
            nat: Rows::made_from(&a.paths.rewrites),
            drops: Rows::made_from(&a.paths.drops),
            latency: a
                .paths
                .latency()
                .into_iter()
                .map(|l| HopLatencyRow {
                    from: l.from,
                    to: l.to,
                    count: l.count,
                    p50_us: us(l.p50_us),
                    p90_us: us(l.p90_us),
                    p99_us: us(l.p99_us),
                    max_us: us(l.max_us),
                })
                .collect(),
            health: HealthRow {
                events_lost: a.health.events_lost,
                buffers_lost: a.health.buffers_lost,
                bytes_skipped: a.health.bytes_skipped,
                packets_without_flow: a.flows.without_flow,
                warnings: a.health.warnings(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{analyze_with, AnalyzeOptions};
    use crate::capture::Capture;
    use crate::generate::mix::{self, MixOptions};

    #[test]
    fn nbl_text_is_the_pointer_windows_prints() {
        for p in [0, 1, 0xFFFF_880A_4600_B370, u64::MAX, 0x00AB_CDEF_0123_4567] {
            assert_eq!(nbl_text(Some(p)), Some(format!("{p:#018X}").replacen("0X", "0x", 1)));
        }
        assert_eq!(nbl_text(None), None);
    }

    #[test]
    fn rows_made_as_they_are_written_are_the_same_rows() {
        let mut bytes = Vec::new();
        mix::write(&mut bytes, &MixOptions { seed: 3, concurrent_flows: 40, size: 1 << 20 }).unwrap();
        let mut a = analyze_with(&["mix.pcapng".into()], &AnalyzeOptions::default(), |p| {
            Capture::from_reader(p, Box::new(std::io::Cursor::new(bytes.clone())))
        });
        let whole = Report::from_analysis(&a);
        assert!(whole.flows.len() > 50, "{} flows", whole.flows.len());
        let freed = Report::from_analysis_taking_lists(&mut a);
        assert!(matches!(freed.flows, Rows::Stored(_)));
        assert_eq!(freed, whole);
        assert_eq!(freed.flows.to_vec(), whole.flows.to_vec());
        assert!(a.flows.is_empty());
    }
}
