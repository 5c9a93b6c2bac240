//! Frame and payload building shared by the ETL generators (reference
//! scenarios, swarm and capture): the same VXLAN encapsulation, the same
//! ndiscap 1003 switch-port fragment and the same fragment keywords,
//! written one way.

use std::io;

use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder};

use crate::capture::etl::providers::ndiscap::{self, SwitchPort};
use crate::event::Direction;

pub type Mac = [u8; 6];
pub type Ip = [u8; 4];

pub const VXLAN_PORT: u16 = 4789;

/// ndiscap: Informational. VmSwitch datapath events: Verbose. Keywords of
/// the VmSwitch events are not known from any source; one fixed bit.
pub const NDIS_LEVEL: u8 = 4;
pub const VMSWITCH_LEVEL: u8 = 5;
pub const VMSWITCH_KEYWORD: u64 = 0x0000_0000_0000_0100;
/// Packet events run in DPCs in the System process.
pub const SYSTEM_PID: u32 = 4;

pub fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// An IPv4 header with the don't-fragment bit, as Windows sends.
pub fn ipv4(src: Ip, dst: Ip, id: u16, ttl: u8, protocol: IpNumber) -> IpHeaders {
    let h = Ipv4Header {
        identification: id,
        time_to_live: ttl,
        protocol,
        source: src,
        destination: dst,
        dont_fragment: true,
        ..Default::default()
    };
    IpHeaders::Ipv4(h, Default::default())
}

/// The outer headers of a VXLAN frame.
#[derive(Debug, Clone, Copy)]
pub struct Outer {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src: Ip,
    pub dst: Ip,
    pub ip_id: u16,
    pub src_port: u16,
    pub vni: u32,
}

/// `inner` (an Ethernet frame) in VXLAN in UDP to 4789, with a zero UDP
/// checksum as VXLAN senders write it.
pub fn vxlan(o: &Outer, inner: &[u8]) -> io::Result<Vec<u8>> {
    let b = PacketBuilder::ethernet2(o.src_mac, o.dst_mac)
        .ip(ipv4(o.src, o.dst, o.ip_id, 128, IpNumber::UDP))
        .udp(o.src_port, VXLAN_PORT);
    let v = o.vni.to_be_bytes();
    let mut payload = Vec::with_capacity(8 + inner.len());
    payload.extend_from_slice(&[0x08, 0, 0, 0, v[1], v[2], v[3], 0]);
    payload.extend_from_slice(inner);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).map_err(other)?;
    // Ethernet 14 + IPv4 20: UDP checksum at +6.
    if let Some(c) = out.get_mut(14 + 20 + 6..14 + 20 + 8) {
        c.copy_from_slice(&[0, 0]);
    }
    Ok(out)
}

/// A stand-in for the NIC's RSS hash: FNV-1a of the frame's IPv4 addresses
/// and ports, so both sightings of one packet at one hop agree.
pub fn rss_hash(frame: &[u8]) -> u32 {
    let key = frame.get(26..38).unwrap_or(frame);
    key.iter().fold(0x811C_9DC5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// An ndiscap 1003 payload: `frame` seen at the port of the NIC `id`
/// (friendly name `name`, type `kind`) of the switch with IfIndex `switch`.
pub fn port_fragment(switch: u32, port_id: u32, id: &str, name: &str, kind: &str, frame: &[u8]) -> Vec<u8> {
    let port = SwitchPort {
        source_port_id: port_id,
        source_port_name: id.into(),
        source_nic_name: name.into(),
        source_nic_type: kind.into(),
        destination_count: 0,
        vlan_id: 0,
        hash_value: rss_hash(frame),
    };
    ndiscap::emit_vmswitch_fragment(switch, switch, &port, frame)
}

/// The keywords of an ndiscap fragment holding a whole Ethernet frame seen
/// going `dir`, at a switch port (1003) or at an adapter (1001).
pub fn fragment_keywords(dir: Direction, at_port: bool) -> u64 {
    use ndiscap::keyword::*;
    let path = if dir == Direction::Outbound { SEND_PATH } else { RECEIVE_PATH };
    let port = if at_port { VMSWITCH } else { 0 };
    ETHERNET | port | PACKET_START | PACKET_END | path
}
