//! ETL records -> events: dispatch each record to its provider's decoder,
//! rebuild ndiscap packets from fragments, and keep the table of capture
//! points (an ndiscap interface or switch port, a pktmon component).

use std::io::Read;

use super::providers::{ndiscap, pktmon, rasndiswan, vmswitch};
use super::{EtlReader, EtlRecord};
use crate::error::DecodeError;
use crate::event::{CapturePoint, Event, EventKind, LinkType, PacketMeta, PacketRecord, PointId};

/// What identifies a capture point in an ETL: etl2pcapng's interface keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PointKey {
    /// ndiscap 1001: the interface and its medium.
    Ndis { lower_if_index: u32, link: u32 },
    /// ndiscap 1003: a Hyper-V switch port.
    SwitchPort { lower_if_index: u32, vlan: u16, port_id: u32, link: u32 },
    /// pktmon: a component and the link type of what it logged.
    Component { id: u16, link: u32 },
    /// Ras-NdisWan VPN packets.
    Vpn,
}

/// Reads an ETL as events.
pub struct EtlEvents<R: Read> {
    reader: EtlReader<R>,
    current: EtlRecord,
    reassembler: ndiscap::Reassembler,
    assembled: Vec<u8>,
    /// Names of NBL events, decoded once each, and switch ports.
    names: vmswitch::NblNames,
    ports: ndiscap::SwitchPorts,
    keys: Vec<PointKey>,
    points: Vec<CapturePoint>,
    /// pktmon component names, which arrive at the end of the log.
    component_names: Vec<(u16, String, String)>,
    /// VmSwitch NBL events come out as `Other`, undecoded.
    skip_switch_events: bool,
}

impl<R: Read> EtlEvents<R> {
    pub fn new(reader: EtlReader<R>) -> Self {
        EtlEvents {
            reader,
            current: EtlRecord::blank(),
            reassembler: ndiscap::Reassembler::default(),
            assembled: Vec::new(),
            names: vmswitch::NblNames::new(),
            ports: ndiscap::SwitchPorts::new(),
            keys: Vec::new(),
            points: Vec::new(),
            component_names: Vec::new(),
            skip_switch_events: false,
        }
    }

    /// Hands out VmSwitch NBL events as [`EventKind::Other`] without
    /// decoding them, for readers that only want packets (convert): in a
    /// switch trace they are most of the events. Nothing else depends on
    /// them: packets, points and their names come out the same.
    pub fn skip_switch_events(&mut self) {
        self.skip_switch_events = true;
    }

    pub fn reader(&self) -> &EtlReader<R> {
        &self.reader
    }

    pub fn points(&self) -> &[CapturePoint] {
        &self.points
    }

    /// The OS build that wrote the file (decides pktmon's drop reason table).
    pub fn os_build(&self) -> u32 {
        self.reader.header().provider_version
    }

    pub fn take_warnings(&mut self) -> Vec<DecodeError> {
        self.reader.take_warnings()
    }

    pub fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// The next event, `Ok(None)` at the end, or the error that ended the
    /// file (returned once; afterwards `Ok(None)`).
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, DecodeError> {
        Ok(self.next_with_points()?.map(|(e, _)| e))
    }

    /// [`next_event`](Self::next_event) with the capture points known so
    /// far, which the event may name.
    pub fn next_with_points(&mut self) -> Result<Option<(Event<'_>, &[CapturePoint])>, DecodeError> {
        // The record is read into the previous one's allocations, in place:
        // a record is some 180 bytes, and every move of it is a copy.
        let rec = &mut self.current;
        // A switch port fragment's layout, found for reassembly and used
        // again to decode it.
        let mut layout;
        loop {
            match self.reader.next_record_into(rec) {
                None => return Ok(None),
                Some(Err(e)) => return Err(e),
                Some(Ok(())) => {}
            }
            // A fragment that starts or continues a packet yields no event.
            layout = None;
            if is_ndiscap_fragment(rec)
                && !fragment_completes(&mut self.reassembler, &mut self.assembled, &mut self.ports, rec, &mut layout)
            {
                continue;
            }
            break;
        }
        let rec = &self.current;
        let (kind, key) = if self.skip_switch_events && rec.provider == Some(vmswitch::GUID) {
            (EventKind::Other, None)
        } else {
            classify(rec, layout.as_ref(), &self.assembled, &mut self.names, &mut self.ports)
        };
        let point = match key {
            Some(k) => point_for(&mut self.keys, &mut self.points, &self.component_names, k, rec),
            None => 0,
        };
        if let EventKind::Pktmon(pktmon::PktmonEvent::Component(c)) = &kind {
            name_component(&mut self.component_names, &self.keys, &mut self.points, c);
        }
        Ok(Some((Event { ts: rec.ts, point, offset: rec.offset, kind, etw: Some(rec) }, &self.points)))
    }
}

/// Feeds an ndiscap fragment to the reassembler; true when it completes a
/// packet, which is then in `assembled` (or is the record's own bytes).
/// For a switch port fragment (1003), its payload's layout and port names
/// go to `layout`.
fn fragment_completes(
    reassembler: &mut ndiscap::Reassembler,
    assembled: &mut Vec<u8>,
    ports: &mut ndiscap::SwitchPorts,
    rec: &EtlRecord,
    layout: &mut Option<ndiscap::PortLayout>,
) -> bool {
    let frame = match rec.id {
        ndiscap::EVENT_FRAGMENT => ndiscap::fragment(&rec.user_data).map(|f| (f.lower_if_index, f.bytes)),
        _ => {
            *layout = ports.layout(&rec.user_data);
            layout.as_ref().map(|p| (p.layout.lower_if_index(), p.layout.frame(&rec.user_data)))
        }
    };
    let Some((lower_if_index, bytes)) = frame else { return true }; // undecodable: surfaces as Other
    let done = match reassembler.push(rec.cpu, lower_if_index, rec.keywords, bytes) {
        Some(std::borrow::Cow::Borrowed(_)) => {
            assembled.clear();
            true
        }
        Some(std::borrow::Cow::Owned(packet)) => {
            *assembled = packet;
            true
        }
        None => false,
    };
    // ndiscap logs 802.11 frames after decryption but with the Protected
    // bit still set; clear it, as etl2pcapng does, so decoders read on.
    if done && ndiscap::link_type(rec.keywords) == crate::event::LinkType::IEEE802_11 {
        if assembled.is_empty() {
            assembled.extend_from_slice(bytes);
        }
        if let Some(flags) = assembled.get_mut(1) {
            *flags &= !0x40;
        }
    }
    done
}

fn is_ndiscap_fragment(rec: &EtlRecord) -> bool {
    rec.provider == Some(ndiscap::GUID) && matches!(rec.id, ndiscap::EVENT_FRAGMENT | ndiscap::EVENT_VMSWITCH_FRAGMENT)
}

/// Decodes one record. `assembled` holds a packet rebuilt from several
/// fragments (empty when the record's own fragment is the whole packet).
fn classify<'a>(
    rec: &'a EtlRecord,
    layout: Option<&ndiscap::PortLayout>,
    assembled: &'a [u8],
    names: &mut vmswitch::NblNames,
    ports: &mut ndiscap::SwitchPorts,
) -> (EventKind<'a>, Option<PointKey>) {
    let Some(provider) = rec.provider else { return (EventKind::Other, None) };
    if provider == ndiscap::GUID && is_ndiscap_fragment(rec) {
        let frag = match rec.id {
            ndiscap::EVENT_FRAGMENT => ndiscap::fragment(&rec.user_data),
            _ => match layout {
                Some(p) => ndiscap::vmswitch_fragment_at(&rec.user_data, p, rec.pointer_size as usize),
                None => ndiscap::vmswitch_fragment_cached(&rec.user_data, rec.pointer_size as usize, ports),
            },
        };
        let Some(frag) = frag else { return (EventKind::Other, None) };
        let link = ndiscap::link_type(rec.keywords);
        let data = if assembled.is_empty() { frag.bytes } else { assembled };
        let key = match &frag.vmswitch {
            Some(p) => PointKey::SwitchPort {
                lower_if_index: frag.lower_if_index,
                vlan: p.vlan_id,
                port_id: p.source_port_id,
                link: link.0,
            },
            None => PointKey::Ndis { lower_if_index: frag.lower_if_index, link: link.0 },
        };
        let meta = PacketMeta {
            direction: ndiscap::direction(rec.keywords),
            switch_port: frag.vmswitch,
            ..Default::default()
        };
        let packet = PacketRecord { link, data, orig_len: ndiscap::original_length(link, data), meta };
        return (EventKind::Packet(packet), Some(key));
    }
    if provider == pktmon::GUID {
        return match pktmon::decode(rec.id, &rec.user_data) {
            Some(pktmon::PktmonEvent::Packet(p)) => {
                let link = pktmon::link_type(p.at.packet_type).unwrap_or(LinkType(u32::MAX));
                let meta = PacketMeta {
                    direction: pktmon_direction(p.at.direction),
                    packet_id: Some(p.at.group),
                    pktmon: Some(p.at),
                    dropped: p.dropped,
                    ..Default::default()
                };
                let packet = PacketRecord { link, data: p.bytes, orig_len: p.original_size as u32, meta };
                (EventKind::Packet(packet), Some(PointKey::Component { id: p.at.component, link: link.0 }))
            }
            Some(other) => (EventKind::Pktmon(other), None),
            None => (EventKind::Other, None),
        };
    }
    if provider == vmswitch::GUID {
        return match vmswitch::decode_cached(rec.id, &rec.user_data, rec.pointer_size as usize, names) {
            Some(ev) => (EventKind::Nbl(ev), None),
            None => (EventKind::Other, None),
        };
    }
    if provider == rasndiswan::GUID && matches!(rec.id, rasndiswan::EVENT_SEND | rasndiswan::EVENT_RECEIVE) {
        if let Some(p) = rasndiswan::decode(&rec.user_data) {
            let meta = PacketMeta {
                direction: if rec.id == rasndiswan::EVENT_SEND {
                    crate::event::Direction::Outbound
                } else {
                    crate::event::Direction::Inbound
                },
                ..Default::default()
            };
            let packet = PacketRecord { link: LinkType::ETHERNET, data: p.bytes, orig_len: p.bytes.len() as u32, meta };
            return (EventKind::Packet(packet), Some(PointKey::Vpn));
        }
    }
    (EventKind::Other, None)
}

fn pktmon_direction(tag: u16) -> crate::event::Direction {
    use crate::event::Direction;
    match tag {
        1 | 3 | 5 => Direction::Inbound,
        2 | 4 | 6 => Direction::Outbound,
        _ => Direction::Unknown,
    }
}

fn point_for(
    keys: &mut Vec<PointKey>,
    points: &mut Vec<CapturePoint>,
    names: &[(u16, String, String)],
    key: PointKey,
    rec: &EtlRecord,
) -> PointId {
    if let Some(i) = keys.iter().position(|k| *k == key) {
        return i as PointId;
    }
    let (name, description, link) = match &key {
        PointKey::Ndis { lower_if_index, link } => {
            let miniport = ndiscap::fragment(&rec.user_data).map(|f| f.miniport_if_index).unwrap_or(0);
            let prefix = match LinkType(*link) {
                LinkType::IEEE802_11 => "wifi",
                LinkType::RAW => "mbb",
                _ => "eth",
            };
            let name =
                if prefix == "eth" { format!("eth:{lower_if_index}:0") } else { format!("{prefix}:{lower_if_index}") };
            (name, Some(format!("LWF over IfIndex {miniport}")), LinkType(*link))
        }
        PointKey::SwitchPort { lower_if_index, vlan, link, .. } => {
            let frag = ndiscap::vmswitch_fragment(&rec.user_data, rec.pointer_size as usize);
            let port = frag.as_ref().and_then(|f| f.vmswitch.clone()).unwrap_or_default();
            let miniport = frag.map(|f| f.miniport_if_index).unwrap_or(0);
            (
                format!("vNIC:{}:{}:{lower_if_index}:{vlan}", port.source_nic_type, port.source_port_name),
                Some(format!("LWF over IfIndex {miniport} VlanID={vlan} {}", port.source_nic_name)),
                LinkType(*link),
            )
        }
        PointKey::Component { id, link } => {
            let (name, description) = names
                .iter()
                .find(|(c, _, _)| c == id)
                .map(|(_, n, d)| (n.clone(), Some(d.clone())))
                .unwrap_or_else(|| (format!("component {id}"), None));
            (name, description, LinkType(*link))
        }
        PointKey::Vpn => ("vpn".to_string(), Some("Ras-NdisWan".to_string()), LinkType::ETHERNET),
    };
    keys.push(key);
    points.push(CapturePoint { name, description, link, snaplen: 0 });
    (points.len() - 1) as PointId
}

/// pktmon names its components at the end of the log; points made before
/// that get their names now.
fn name_component(
    names: &mut Vec<(u16, String, String)>,
    keys: &[PointKey],
    points: &mut [CapturePoint],
    c: &pktmon::Component,
) {
    names.push((c.id, c.name.clone(), c.description.clone()));
    for (k, p) in keys.iter().zip(points.iter_mut()) {
        if matches!(k, PointKey::Component { id, .. } if *id == c.id) {
            p.name = c.name.clone();
            p.description = Some(c.description.clone());
        }
    }
}
