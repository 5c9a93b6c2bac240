//! `convert`: any capture (above all an ETL) to pcapng, one interface per
//! capture point, with what Wireshark can show of each packet: direction
//! in `epb_flags`, pktmon's PktGroupId in `epb_packetid`, drops in
//! `epb_verdict`, and the ETW context in a comment.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::capture::etl::providers::pktmon;
use crate::capture::etl::EtlRecord;
use crate::capture::Capture;
use crate::error::CaptureError;
use crate::event::{CapturePoint, Event, EventKind, LinkType, PacketRecord};
use crate::report::pcapng::{EpbOptions, PcapNgWriter};

/// `epb_verdict` for a dropped packet: type 2 (eBPF XDP) with XDP_DROP (1),
/// as Microsoft's etl2pcapng writes it, so Wireshark filters agree.
const DROP_VERDICT: [u8; 9] = [2, 1, 0, 0, 0, 0, 0, 0, 0];
/// Snap length of the interfaces we write.
const SNAPLEN: u32 = 65535;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertStats {
    pub packets: u64,
    pub interfaces: u64,
    /// Events that are not packets (NBL, component, kernel...), not written.
    pub other_events: u64,
    pub warnings: Vec<String>,
    /// The error that ended the input early, if any; what came before it
    /// was written.
    pub error: Option<String>,
}

/// Events looked at for a pktmon event before deciding a capture has none.
const PKTMON_PROBE_EVENTS: u64 = 4096;

/// The name and description each capture point will have once the whole
/// file is read: pktmon names its components at the end of the log, so a
/// pktmon capture is read once ahead. Other captures name their points
/// when they first appear, and are not (empty: use the names as they come).
fn final_points(path: &Path) -> Vec<CapturePoint> {
    let Ok(mut c) = Capture::open(path) else { return Vec::new() };
    c.skip_switch_events();
    let mut seen = 0;
    let mut pktmon = false;
    while let Ok(Some(ev)) = c.next_event() {
        pktmon |= match &ev.kind {
            EventKind::Pktmon(_) => true,
            EventKind::Packet(p) => p.meta.pktmon.is_some(),
            _ => false,
        };
        seen += 1;
        if seen == PKTMON_PROBE_EVENTS && !pktmon {
            return Vec::new();
        }
    }
    c.points().to_vec()
}

/// Writes the comment of a packet with an ETW context into `out`: the
/// context, then switch-port or pktmon details when there are any.
fn write_comment(out: &mut String, r: &EtlRecord, p: &PacketRecord<'_>, os_build: u32) {
    out.clear();
    // Writing into a String cannot fail.
    let _ = write!(out, "PID={} TID={}", r.pid, r.tid);
    if let Some(port) = &p.meta.switch_port {
        let _ = write!(
            out,
            " VlanId={} SrcPortId={} SrcNicType={} SrcNicName={} SrcPortName={}",
            port.vlan_id, port.source_port_id, port.source_nic_type, port.source_nic_name, port.source_port_name
        );
        if port.destination_count > 0 {
            let _ = write!(out, " DstNicCount={}", port.destination_count);
        }
        let _ = write!(out, " HashValue={:08x}", port.hash_value);
    }
    if let Some(a) = &p.meta.pktmon {
        let _ = write!(
            out,
            " Component={} Edge={} Appearance={} Direction={} Filter={}",
            a.component,
            a.edge,
            a.appearance,
            pktmon::direction_name(a.direction),
            a.filter
        );
        if p.meta.dropped {
            let _ = write!(
                out,
                " DropReason={} ({}) DropLocation={:#X}",
                pktmon::drop_reason(a.drop_reason, os_build),
                a.drop_reason,
                a.drop_location
            );
        }
    }
}

/// Packet comments, built in one reused buffer. A plain capture's comment
/// is its process and thread alone, and consecutive packets mostly come
/// from the same ones, so such a comment is kept until they change.
#[derive(Default)]
struct Comments {
    text: String,
    /// The (pid, tid) that `text` is the whole comment of, if it is.
    plain_for: Option<(u32, u32)>,
}

impl Comments {
    fn of(&mut self, ev: &Event<'_>, p: &PacketRecord<'_>, os_build: u32) -> Option<&str> {
        let r = ev.etw?;
        let plain = p.meta.switch_port.is_none() && p.meta.pktmon.is_none();
        if !(plain && self.plain_for == Some((r.pid, r.tid))) {
            write_comment(&mut self.text, r, p, os_build);
            self.plain_for = plain.then_some((r.pid, r.tid));
        }
        Some(&self.text)
    }
}

/// Converts `input` to pcapng on `out`. Points whose bytes are not a frame
/// or IP packet (pktmon logs some as raw payload) are skipped and counted.
pub fn convert<W: Write>(input: &Path, out: W) -> Result<(ConvertStats, W), CaptureError> {
    let io = CaptureError::write;
    let names = if input.as_os_str() == "-" { Vec::new() } else { final_points(input) };
    let mut capture = Capture::open(input)?;
    // Switch events are counted, not converted: no need to decode them.
    capture.skip_switch_events();
    let os_build = capture.os_build();
    let mut w = PcapNgWriter::new(out, concat!("overlay-trace ", env!("CARGO_PKG_VERSION"))).map_err(io)?;
    let mut interface_of: Vec<Option<u32>> = Vec::new();
    let mut stats = ConvertStats::default();
    let mut comments = Comments::default();
    loop {
        let (ev, points) = match capture.next_with_points() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                stats.error = Some(e.to_string());
                break;
            }
        };
        let EventKind::Packet(p) = &ev.kind else {
            stats.other_events += 1;
            continue;
        };
        if p.link == LinkType(u32::MAX) {
            stats.other_events += 1;
            continue;
        }
        let i = ev.point as usize;
        if interface_of.len() <= i {
            interface_of.resize(i + 1, None);
        }
        let iface = match interface_of[i] {
            Some(id) => id,
            None => {
                let point = names.get(i).or(points.get(i));
                let name = point.map(|p| p.name.as_str()).unwrap_or("unknown");
                let description = point.and_then(|p| p.description.as_deref());
                let id = w.add_interface_described(name, description, p.link, SNAPLEN).map_err(io)?;
                stats.interfaces += 1;
                interface_of[i] = Some(id);
                id
            }
        };
        let opts = EpbOptions {
            direction: p.meta.direction,
            packet_id: p.meta.packet_id,
            comment: comments.of(&ev, p, os_build),
            verdict: p.meta.dropped.then_some(&DROP_VERDICT[..]),
        };
        w.write_packet(iface, ev.ts, p.data, p.orig_len, &opts).map_err(io)?;
        stats.packets += 1;
    }
    stats.warnings = capture.take_warnings();
    let out = w.finish().map_err(io)?;
    Ok((stats, out))
}
