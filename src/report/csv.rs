//! CSV: one section per output, raw values (full timestamps, numbers
//! without units) so spreadsheets and scripts need no parsing.

use std::io::{self, Write};

use super::{Report, Section};

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn render(report: &Report, section: Section) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(report, section, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`render`] straight to a writer, a row at a time: a long capture's
/// flows are read back from their temporary file a chunk at a time, and
/// their whole text in memory made a 4 GiB pcapng's peak 1.21x a 1 GiB
/// one's.
pub fn write(report: &Report, section: Section, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    // The first error ends the writing (a closed pipe, a full disk).
    let mut error = None;
    let mut row = |fields: Vec<String>| {
        if error.is_none() {
            error = w.write_record(&fields).err();
        }
    };
    match section {
        Section::Captures => {
            row([
                "path",
                "format",
                "packets",
                "events",
                "first_seen",
                "last_seen",
                "interfaces",
                "bytes_read",
                "error",
            ]
            .map(String::from)
            .to_vec());
            for c in &report.captures {
                row(vec![
                    c.path.clone(),
                    opt(c.format),
                    c.packets.to_string(),
                    c.events.to_string(),
                    opt(c.first_seen),
                    opt(c.last_seen),
                    c.interfaces.join(";"),
                    c.bytes_read.to_string(),
                    opt(c.error.clone()),
                ]);
            }
        }
        Section::Flows => {
            row([
                "id",
                "proto",
                "src",
                "src_port",
                "dst",
                "dst_port",
                "tunnel_kind",
                "vni",
                "outer_src",
                "outer_src_port",
                "outer_dst",
                "outer_dst_port",
                "packets_fwd",
                "packets_rev",
                "bytes_fwd",
                "bytes_rev",
                "first_seen",
                "last_seen",
                "tcp_state",
                "handshake_us",
                "retransmissions",
                "resets",
                "sightings",
            ]
            .map(String::from)
            .to_vec());
            for f in report.flows.iter() {
                let t = f.tunnel.as_ref();
                let tcp = f.tcp.as_ref();
                row(vec![
                    f.id.to_string(),
                    f.proto.to_string(),
                    f.src.to_string(),
                    opt(f.src_port),
                    f.dst.to_string(),
                    opt(f.dst_port),
                    opt(t.map(|t| t.kind)),
                    opt(t.map(|t| t.vni)),
                    opt(t.map(|t| t.outer_src)),
                    opt(t.map(|t| t.outer_src_port)),
                    opt(t.map(|t| t.outer_dst)),
                    opt(t.map(|t| t.outer_dst_port)),
                    f.packets_fwd.to_string(),
                    f.packets_rev.to_string(),
                    f.bytes_fwd.to_string(),
                    f.bytes_rev.to_string(),
                    f.first_seen.to_string(),
                    f.last_seen.to_string(),
                    opt(tcp.map(|t| t.state)),
                    opt(tcp.and_then(|t| t.handshake_us)),
                    opt(tcp.map(|t| t.retransmissions)),
                    opt(tcp.map(|t| t.resets)),
                    f.sightings.to_string(),
                ]);
            }
        }
        Section::Paths => {
            row([
                "path",
                "flow_id",
                "verdict",
                "latency_us",
                "hop",
                "ts",
                "point",
                "kind",
                "nbl",
                "switch",
                "to",
                "proto",
                "src",
                "src_port",
                "dst",
                "dst_port",
                "vni",
            ]
            .map(String::from)
            .to_vec());
            for (i, p) in report.paths.iter().enumerate() {
                for (j, h) in p.hops.iter().enumerate() {
                    let t = h.tuple.as_ref();
                    row(vec![
                        (i + 1).to_string(),
                        opt(p.flow_id),
                        p.verdict.to_string(),
                        p.latency_us.to_string(),
                        (j + 1).to_string(),
                        h.ts.to_string(),
                        h.point.clone(),
                        h.kind.to_string(),
                        opt(h.nbl.clone()),
                        opt(h.switch.clone()),
                        opt(h.to.clone()),
                        opt(t.map(|t| t.proto)),
                        opt(t.map(|t| t.src)),
                        opt(t.and_then(|t| t.src_port)),
                        opt(t.map(|t| t.dst)),
                        opt(t.and_then(|t| t.dst_port)),
                        opt(h.vni),
                    ]);
                }
            }
        }
        Section::Nat => {
            row([
                "before_proto",
                "before_src",
                "before_src_port",
                "before_dst",
                "before_dst_port",
                "after_proto",
                "after_src",
                "after_src_port",
                "after_dst",
                "after_dst_port",
                "point",
                "packets",
                "flow_ids",
            ]
            .map(String::from)
            .to_vec());
            for r in report.nat.iter() {
                let (b, a) = (&r.before, &r.after);
                row(vec![
                    b.proto.to_string(),
                    b.src.to_string(),
                    opt(b.src_port),
                    b.dst.to_string(),
                    opt(b.dst_port),
                    a.proto.to_string(),
                    a.src.to_string(),
                    opt(a.src_port),
                    a.dst.to_string(),
                    opt(a.dst_port),
                    r.point.clone(),
                    r.packets.to_string(),
                    r.flow_ids.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(";"),
                ]);
            }
        }
        Section::Drops => {
            row(["ts", "point", "by", "reason", "reason_code", "flow_id", "nbl"].map(String::from).to_vec());
            for d in report.drops.iter() {
                row(vec![
                    d.ts.to_string(),
                    d.point.clone(),
                    d.by.clone(),
                    d.reason.clone(),
                    opt(d.reason_code),
                    opt(d.flow_id),
                    opt(d.nbl.clone()),
                ]);
            }
        }
        Section::Latency => {
            row(["from", "to", "count", "p50_us", "p90_us", "p99_us", "max_us"].map(String::from).to_vec());
            for l in &report.latency {
                row(vec![
                    l.from.clone(),
                    l.to.clone(),
                    l.count.to_string(),
                    l.p50_us.to_string(),
                    l.p90_us.to_string(),
                    l.p99_us.to_string(),
                    l.max_us.to_string(),
                ]);
            }
        }
        Section::Health => {
            let h = &report.health;
            row(vec![
                "events_lost".into(),
                "buffers_lost".into(),
                "bytes_skipped".into(),
                "packets_without_flow".into(),
                "warnings".into(),
            ]);
            row(vec![
                h.events_lost.to_string(),
                h.buffers_lost.to_string(),
                h.bytes_skipped.to_string(),
                h.packets_without_flow.to_string(),
                h.warnings.join("\n"),
            ]);
        }
    }
    match error.map(csv::Error::into_kind) {
        // Keep the kind of an I/O error (a closed pipe is not a failure).
        Some(csv::ErrorKind::Io(e)) => Err(e),
        // Records of strings give no other error; said as it is if one did.
        Some(kind) => Err(io::Error::other(format!("{kind:?}"))),
        None => w.flush(),
    }
}
