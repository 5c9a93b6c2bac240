//! The common case decoded directly: Ethernet (with at most one 802.1Q
//! tag) or raw IP, IPv4 without fragmentation or IPv6 without extension
//! headers, then TCP, UDP (and the tunnels inside it) or ICMP, every length
//! field consistent with the bytes there are.
//!
//! etherparse's lax slicing handles every odd case and is kept for them; it
//! also builds and moves large structures for every packet, which made it a
//! third of the time on a plain capture. Anything this path is not sure of
//! returns `None` and the whole frame goes to the general decoder, so both
//! give the same [`Decoded`] (a test compares them packet by packet).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::hash::{self, IpFacts};
use super::{unwrap_tunnel, DecodeConfig, Decoded, L3Start, Proto, TcpFlags, TcpSegment, Tuple, Unwrapped};

const ETHERNET_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;

/// Decodes `start` when it is the common case; `None` otherwise.
pub(super) fn decode(mut start: L3Start<'_>, cfg: &DecodeConfig, out: &mut Decoded) -> Option<()> {
    loop {
        let ip = match start {
            L3Start::Ethernet(frame) => ethernet_payload(frame)?,
            L3Start::Ip(packet) => packet,
            L3Start::EtherType(0x0800 | 0x86DD, packet) => packet,
            L3Start::EtherType(..) => return None,
        };
        let IpHeader { src, dst, proto, ip_len, payload, facts } = ip_header(ip)?;
        out.inner_ip_len = ip_len;
        if cfg.hashes {
            (out.fingerprint, out.invariant) = hash::fingerprint_and_invariant(facts, proto, payload);
        }
        let mut tuple = Tuple { proto: Proto::from_ip_number(proto), src, dst, src_port: 0, dst_port: 0 };
        match proto {
            6 => {
                let h = payload.get(..20)?;
                let header_len = usize::from(h[12] >> 4) * 4;
                if header_len < 20 || header_len > payload.len() {
                    return None;
                }
                tuple.src_port = u16::from_be_bytes([h[0], h[1]]);
                tuple.dst_port = u16::from_be_bytes([h[2], h[3]]);
                let flags = h[13];
                out.tcp = Some(TcpSegment {
                    seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                    flags: TcpFlags {
                        fin: flags & 0x01 != 0,
                        syn: flags & 0x02 != 0,
                        rst: flags & 0x04 != 0,
                        ack: flags & 0x10 != 0,
                    },
                    window: u16::from_be_bytes([h[14], h[15]]),
                    payload_len: (payload.len() - header_len) as u32,
                });
            }
            17 => {
                let h = payload.get(..8)?;
                let udp_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
                if udp_len < 8 || udp_len > payload.len() {
                    return None;
                }
                tuple.src_port = u16::from_be_bytes([h[0], h[1]]);
                tuple.dst_port = u16::from_be_bytes([h[2], h[3]]);
                if let Some(kind) = cfg.tunnel_for(tuple.src_port, tuple.dst_port) {
                    match unwrap_tunnel(kind, &payload[8..udp_len], tuple, out) {
                        Unwrapped::Inner(next) => {
                            start = next;
                            continue;
                        }
                        Unwrapped::NotATunnel => {}
                        Unwrapped::Stopped => return Some(()),
                    }
                }
            }
            // ICMP has no ports; its header need not be whole for the tuple.
            1 | 58 => {}
            _ => return None,
        }
        out.inner = Some(tuple);
        return Some(());
    }
}

/// The IP packet of an Ethernet frame with no tag or one 802.1Q tag.
fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    let ether_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ether_type {
        0x0800 | 0x86DD => frame.get(ETHERNET_LEN..),
        0x8100 => {
            let inner = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
            matches!(inner, 0x0800 | 0x86DD).then(|| frame.get(ETHERNET_LEN + VLAN_TAG_LEN..))?
        }
        _ => None,
    }
}

/// What decoding takes from an IP header.
struct IpHeader<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    /// The packet's length by its header.
    ip_len: u32,
    payload: &'a [u8],
    /// What the fingerprint takes of the header.
    facts: IpFacts,
}

/// The header of an unfragmented IPv4 packet or an IPv6 packet without
/// extension headers, whose length field fits the bytes there are.
fn ip_header(ip: &[u8]) -> Option<IpHeader<'_>> {
    match ip.first()? >> 4 {
        4 => {
            let h = ip.get(..20)?;
            let header_len = usize::from(h[0] & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let fragmented = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
            if header_len < 20 || total_len < header_len || total_len > ip.len() || fragmented {
                return None;
            }
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
            let facts =
                IpFacts::V4 { id: u16::from_be_bytes([h[4], h[5]]), total_len: total_len as u16, protocol: h[9] };
            Some(IpHeader {
                src: src.into(),
                dst: dst.into(),
                proto: h[9],
                ip_len: total_len as u32,
                payload: &ip[header_len..total_len],
                facts,
            })
        }
        6 => {
            let h = ip.get(..40)?;
            let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let next_header = h[6];
            if !matches!(next_header, 6 | 17 | 58) || 40 + payload_len > ip.len() || payload_len == 0 {
                return None;
            }
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&h[8..24]).ok()?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&h[24..40]).ok()?);
            let facts = IpFacts::V6 { payload_len: payload_len as u16, next_header };
            Some(IpHeader {
                src: src.into(),
                dst: dst.into(),
                proto: next_header,
                ip_len: 40 + payload_len as u32,
                payload: &ip[40..40 + payload_len],
                facts,
            })
        }
        _ => None,
    }
}
