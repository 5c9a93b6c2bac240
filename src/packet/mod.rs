//! Bytes of one frame -> what a flow table needs: the innermost tuple, the
//! tunnels around it, and the TCP header fields.
//!
//! Headers are read by etherparse in its "lax" mode, which decodes a cut-off
//! packet as far as it goes; this module adds the link layers etherparse does
//! not know and unwraps UDP tunnels, up to [`MAX_TUNNEL_DEPTH`] deep.

mod fast;
pub mod hash;
pub mod link;
pub mod tunnel;
pub mod tuple;

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::event::LinkType;
pub use link::{L3Start, LinkError};
pub use tunnel::{Next, TunnelKind};
pub use tuple::{Endpoint, Proto, Tuple, TupleText};

/// VXLAN in VXLAN in VXLAN is the deepest nesting seen in real captures;
/// one more level leaves room without letting a crafted packet loop.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// Which UDP ports mean which encapsulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeConfig {
    pub vxlan_ports: Vec<u16>,
    pub vxlan_gpe_ports: Vec<u16>,
    pub geneve_ports: Vec<u16>,
    /// Compute [`Decoded::fingerprint`] and [`Decoded::invariant`]. They
    /// join sightings of one packet at several points; a capture taken at
    /// one point has nothing to join, and hashing up to 96 bytes twice per
    /// packet is a good part of decoding.
    pub hashes: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            vxlan_ports: tunnel::VXLAN_PORTS.to_vec(),
            vxlan_gpe_ports: vec![tunnel::VXLAN_GPE_PORT],
            geneve_ports: vec![tunnel::GENEVE_PORT],
            hashes: true,
        }
    }
}

impl DecodeConfig {
    fn tunnel_for(&self, src_port: u16, dst_port: u16) -> Option<TunnelKind> {
        // Like Wireshark, either port selects the dissector; the destination
        // is tried first since that is where the well-known port usually is.
        for port in [dst_port, src_port] {
            if self.vxlan_ports.contains(&port) {
                return Some(TunnelKind::Vxlan);
            }
            if self.geneve_ports.contains(&port) {
                return Some(TunnelKind::Geneve);
            }
            if self.vxlan_gpe_ports.contains(&port) {
                return Some(TunnelKind::VxlanGpe);
            }
        }
        None
    }
}

/// One level of encapsulation: the tunnel header and the outer UDP/IP tuple
/// that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelHop {
    pub kind: TunnelKind,
    pub vni: u32,
    pub outer: Tuple,
}

/// TCP header fields the flow table tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpSegment {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes present in the IP packet (by its length field, so a
    /// short snap length does not hide retransmitted data).
    pub payload_len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// The result of decoding one frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    tunnels: TunnelStack,
    /// The innermost IP (or ARP) tuple, if the frame has one.
    pub inner: Option<Tuple>,
    pub tcp: Option<TcpSegment>,
    /// Why decoding stopped before the innermost transport header, when it did.
    pub stopped: Option<Stop>,
    /// A hash of the innermost packet that stays the same when one packet is
    /// captured at several points: IPv4 id, lengths and transport bytes
    /// without TTL and checksums. 0 when there is no IP packet.
    pub fingerprint: u64,
    /// Length of the innermost IP packet by its own header (0 without IP).
    pub inner_ip_len: u32,
    /// A hash of the innermost packet that NAT and encapsulation leave alone:
    /// no addresses, ports, ICMP ids, TTL or checksums, but sequence numbers,
    /// flags, window, options, lengths and payload. The same packet before
    /// and after a rewrite, or inside and outside a tunnel, has the same
    /// value. 0 when there is no IP or ARP packet.
    pub invariant: u64,
}

/// Why a frame was not decoded to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The bytes ran out (snap length or damage) inside this header.
    Truncated(Header),
    /// The link type is not one we decode.
    UnsupportedLink(u32),
    /// The frame carries no IP or ARP packet (management frames, LLDP, ...).
    NoNetworkLayer,
    /// Tunnels nested deeper than [`MAX_TUNNEL_DEPTH`].
    TooDeep,
}

/// A header a frame's bytes can run out in. Named by an enum, not by its
/// text: every decoding a path keeps has an `Option<Stop>`, which a `&str`
/// made 24 bytes and this makes 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    LinuxCooked,
    LinuxCookedV2,
    Loopback,
    Radiotap,
    Ieee80211FrameControl,
    Ieee80211Llc,
    Ethernet,
    Ip,
    /// Where the general decoder cannot tell which of the two it was.
    LinkOrNetwork,
    Tcp,
    Udp,
    Transport,
    TunnelPayload,
}

impl Header {
    pub fn name(self) -> &'static str {
        match self {
            Header::LinuxCooked => "Linux cooked (SLL) header",
            Header::LinuxCookedV2 => "Linux cooked v2 (SLL2) header",
            Header::Loopback => "loopback header",
            Header::Radiotap => "radiotap header",
            Header::Ieee80211FrameControl => "802.11 frame control",
            Header::Ieee80211Llc => "802.11 header and LLC/SNAP",
            Header::Ethernet => "Ethernet header",
            Header::Ip => "IP header",
            Header::LinkOrNetwork => "link or network header",
            Header::Tcp => "TCP header",
            Header::Udp => "UDP header",
            Header::Transport => "transport header",
            Header::TunnelPayload => "tunnel payload",
        }
    }
}

impl std::fmt::Display for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Decoded {
    /// Tunnels from the outermost to the innermost.
    pub fn tunnels(&self) -> impl Iterator<Item = &TunnelHop> {
        self.tunnels.outermost.iter().chain(self.tunnels.deeper.iter().flat_map(|d| d.iter()))
    }

    pub fn tunnel_count(&self) -> usize {
        self.tunnels.outermost.is_some() as usize + self.tunnels.deeper.as_ref().map_or(0, |d| d.len())
    }

    /// The tunnel that directly carries the inner packet.
    pub fn innermost_tunnel(&self) -> Option<&TunnelHop> {
        self.tunnels.deeper.as_ref().and_then(|d| d.last()).or(self.tunnels.outermost.as_ref())
    }

    fn push_tunnel(&mut self, hop: TunnelHop) -> bool {
        if self.tunnel_count() == MAX_TUNNEL_DEPTH {
            return false;
        }
        let t = &mut self.tunnels;
        if t.outermost.is_none() {
            t.outermost = Some(hop);
            return true;
        }
        t.deeper.get_or_insert_with(Box::default).push(hop);
        true
    }
}

/// The tunnels of a frame: the outermost in place, since most tunnelled
/// frames have one, and any inside it boxed. Every sighting of a packet
/// carries its decoding, and four tunnels in place made it nearly twice as
/// large. A boxed `Vec`, not a boxed slice: its pointer is one word, not two.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct TunnelStack {
    outermost: Option<TunnelHop>,
    #[allow(clippy::box_collection)]
    deeper: Option<Box<Vec<TunnelHop>>>,
}

/// Decodes a frame of the given link type.
pub fn decode(link: LinkType, data: &[u8], cfg: &DecodeConfig) -> Decoded {
    let mut out = Decoded::default();
    let start = match link::unwrap(link, data) {
        Ok(s) => s,
        Err(LinkError::Truncated(what)) => {
            out.stopped = Some(Stop::Truncated(what));
            return out;
        }
        Err(LinkError::NoPayload(_)) => {
            out.stopped = Some(Stop::NoNetworkLayer);
            return out;
        }
        Err(LinkError::UnsupportedLink(n)) => {
            out.stopped = Some(Stop::UnsupportedLink(n));
            return out;
        }
    };
    if fast::decode(start, cfg, &mut out).is_some() {
        return out;
    }
    // Not the common case (or not sure): start again with the general decoder.
    out = Decoded::default();
    decode_from(start, cfg, &mut out);
    out
}

/// [`decode`] without its fast path for the common case: what the fast
/// path must agree with (tests compare the two).
#[doc(hidden)]
pub fn decode_general(link: LinkType, data: &[u8], cfg: &DecodeConfig) -> Decoded {
    let mut out = Decoded::default();
    match link::unwrap(link, data) {
        Ok(start) => decode_from(start, cfg, &mut out),
        Err(_) => return decode(link, data, cfg),
    }
    out
}

fn slice(start: L3Start<'_>) -> Result<LaxSlicedPacket<'_>, Header> {
    match start {
        L3Start::Ethernet(d) => LaxSlicedPacket::from_ethernet(d).map_err(|_| Header::Ethernet),
        L3Start::EtherType(t, d) => Ok(LaxSlicedPacket::from_ether_type(EtherType(t), d)),
        L3Start::Ip(d) => LaxSlicedPacket::from_ip(d).map_err(|_| Header::Ip),
    }
}

fn decode_from(mut start: L3Start<'_>, cfg: &DecodeConfig, out: &mut Decoded) {
    loop {
        let pkt = match slice(start) {
            Ok(p) => p,
            Err(what) => {
                out.stopped = Some(Stop::Truncated(what));
                return;
            }
        };
        let (src, dst, ip_payload, facts) = match &pkt.net {
            Some(LaxNetSlice::Ipv4(ip)) => {
                let h = ip.header();
                let facts =
                    hash::IpFacts::V4 { id: h.identification(), total_len: h.total_len(), protocol: h.protocol().0 };
                (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), ip.payload(), facts)
            }
            Some(LaxNetSlice::Ipv6(ip)) => {
                let h = ip.header();
                let facts =
                    hash::IpFacts::V6 { payload_len: h.payload_length(), next_header: ip.payload().ip_number.0 };
                (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), ip.payload(), facts)
            }
            Some(LaxNetSlice::Arp(arp)) => {
                if cfg.hashes {
                    out.invariant = hash::arp_invariant(arp.slice());
                }
                out.inner = arp_tuple(arp.sender_protocol_addr(), arp.target_protocol_addr());
                if out.inner.is_none() {
                    out.stopped = Some(Stop::NoNetworkLayer);
                }
                return;
            }
            None => {
                out.stopped = Some(match pkt.stop_err {
                    Some(_) => Stop::Truncated(Header::LinkOrNetwork),
                    None => Stop::NoNetworkLayer,
                });
                return;
            }
        };
        let proto = Proto::from_ip_number(ip_payload.ip_number.0);
        if cfg.hashes {
            (out.fingerprint, out.invariant) =
                hash::fingerprint_and_invariant(facts, ip_payload.ip_number.0, ip_payload.payload);
        }
        out.inner_ip_len = match &pkt.net {
            Some(LaxNetSlice::Ipv4(ip)) => ip.header().total_len() as u32,
            Some(LaxNetSlice::Ipv6(ip)) => 40 + ip.header().payload_length() as u32,
            _ => 0,
        };
        let mut tuple = Tuple { proto, src, dst, src_port: 0, dst_port: 0 };
        match &pkt.transport {
            Some(TransportSlice::Tcp(tcp)) => {
                tuple.src_port = tcp.source_port();
                tuple.dst_port = tcp.destination_port();
                let header_len = tcp.slice().len() - tcp.payload().len();
                let payload_len = if ip_payload.incomplete {
                    tcp.payload().len()
                } else {
                    ip_payload.payload.len().saturating_sub(header_len)
                };
                out.tcp = Some(TcpSegment {
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    flags: TcpFlags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst() },
                    window: tcp.window_size(),
                    payload_len: payload_len as u32,
                });
            }
            Some(TransportSlice::Udp(udp)) => {
                tuple.src_port = udp.source_port();
                tuple.dst_port = udp.destination_port();
                if let Some(kind) = cfg.tunnel_for(tuple.src_port, tuple.dst_port) {
                    match unwrap_tunnel(kind, udp.payload(), tuple, out) {
                        Unwrapped::Inner(next) => {
                            start = next;
                            continue;
                        }
                        Unwrapped::NotATunnel => {}
                        Unwrapped::Stopped => return,
                    }
                }
            }
            Some(_) => {}
            None if !ip_payload.fragmented && proto.has_ports() => {
                // The transport header was cut short; the ports are in the
                // first four bytes and often still there.
                if let Some(p) = ip_payload.payload.get(..4) {
                    tuple.src_port = u16::from_be_bytes([p[0], p[1]]);
                    tuple.dst_port = u16::from_be_bytes([p[2], p[3]]);
                }
                out.stopped = Some(Stop::Truncated(match proto {
                    Proto::Tcp => Header::Tcp,
                    Proto::Udp => Header::Udp,
                    _ => Header::Transport,
                }));
            }
            None => {}
        }
        out.inner = Some(tuple);
        return;
    }
}

enum Unwrapped<'a> {
    Inner(L3Start<'a>),
    /// Too short to be the tunnel: keep the UDP packet as the inner one.
    NotATunnel,
    Stopped,
}

fn unwrap_tunnel<'a>(kind: TunnelKind, payload: &'a [u8], outer: Tuple, out: &mut Decoded) -> Unwrapped<'a> {
    let header = match kind {
        TunnelKind::Vxlan => tunnel::vxlan(payload),
        TunnelKind::VxlanGpe => tunnel::vxlan_gpe(payload),
        TunnelKind::Geneve => tunnel::geneve(payload),
    };
    let Some(h) = header else {
        return Unwrapped::NotATunnel;
    };
    if !out.push_tunnel(TunnelHop { kind, vni: h.vni, outer }) {
        out.stopped = Some(Stop::TooDeep);
        return Unwrapped::Stopped;
    }
    let inner = &payload[h.header_len..];
    // Like tshark, a frame whose tunnel carries nothing we can read belongs
    // to no flow: the flow is defined by the innermost packet.
    let start = match h.next {
        Next::Ethernet => L3Start::Ethernet(inner),
        Next::EtherType(t) => L3Start::EtherType(t, inner),
        Next::Other(_) => {
            out.stopped = Some(Stop::NoNetworkLayer);
            return Unwrapped::Stopped;
        }
    };
    if inner.is_empty() {
        out.stopped = Some(Stop::Truncated(Header::TunnelPayload));
        return Unwrapped::Stopped;
    }
    Unwrapped::Inner(start)
}

fn arp_tuple(sender: &[u8], target: &[u8]) -> Option<Tuple> {
    let addr = |b: &[u8]| -> Option<IpAddr> {
        match b.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
            _ => None,
        }
    };
    Some(Tuple { proto: Proto::Arp, src: addr(sender)?, dst: addr(target)?, src_port: 0, dst_port: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario B's outer frame from `scenarios.md`, rebuilt: VXLAN VNI 4096
    /// over UDP 1085 -> 4789, inner ICMP 10.255.0.5 -> 10.255.0.7.
    fn vxlan_icmp() -> Vec<u8> {
        let inner =
            etherparse::PacketBuilder::ethernet2([0, 0x15, 0x5d, 0xbc, 0xf9, 0xaa], [0, 0x15, 0x5d, 0x71, 0xa4, 0xc5])
                .ipv4([10, 255, 0, 5], [10, 255, 0, 7], 128)
                .icmpv4_echo_request(1, 1);
        let mut inner_bytes = Vec::new();
        inner.write(&mut inner_bytes, &[0u8; 32]).unwrap();
        let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0];
        vx.extend_from_slice(&inner_bytes);
        let outer = etherparse::PacketBuilder::ethernet2([0, 0x22, 0x48, 1, 0x9e, 0x11], [0, 0x22, 0x48, 1, 0, 3])
            .ipv4([10, 0, 0, 5], [10, 0, 0, 4], 128)
            .udp(1085, 4789);
        let mut out = Vec::new();
        outer.write(&mut out, &vx).unwrap();
        out
    }

    /// Every sighting a path keeps and every packet handed from the reading
    /// thread to the correlating one holds a decoding: bytes here are moved
    /// and kept a million times a gigabyte.
    #[test]
    fn a_decoding_stays_small() {
        use std::mem::size_of;
        assert!(size_of::<Option<Stop>>() <= 8, "{}", size_of::<Option<Stop>>());
        assert!(size_of::<TunnelStack>() <= 56, "{}", size_of::<TunnelStack>());
        assert!(size_of::<Decoded>() <= 144, "{}", size_of::<Decoded>());
    }

    #[test]
    fn unwraps_vxlan() {
        let d = decode(LinkType::ETHERNET, &vxlan_icmp(), &DecodeConfig::default());
        let inner = d.inner.unwrap();
        assert_eq!(inner.proto, Proto::Icmp);
        assert_eq!(inner.src.to_string(), "10.255.0.5");
        let t = d.innermost_tunnel().unwrap();
        assert_eq!((t.kind, t.vni, t.outer.src_port, t.outer.dst_port), (TunnelKind::Vxlan, 4096, 1085, 4789));
        assert_eq!(d.stopped, None);
    }

    #[test]
    fn truncated_inner_keeps_what_it_has() {
        let full = vxlan_icmp();
        // Cut inside the inner IPv4 header.
        let d = decode(LinkType::ETHERNET, &full[..14 + 20 + 8 + 8 + 14 + 10], &DecodeConfig::default());
        assert_eq!(d.tunnel_count(), 1);
        assert!(matches!(d.stopped, Some(Stop::Truncated(_))), "{:?}", d.stopped);
    }

    #[test]
    fn invariant_survives_nat_and_decapsulation() {
        let cfg = DecodeConfig::default();
        let syn = |src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16| {
            let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4(src, dst, 64)
                .tcp(sp, dp, 1862583515, 65535)
                .syn();
            let mut v = Vec::new();
            b.write(&mut v, &[]).unwrap();
            v
        };
        let public = decode(LinkType::ETHERNET, &syn([92, 234, 68, 72], 53711, [10, 0, 0, 4], 80), &cfg);
        let private = decode(LinkType::ETHERNET, &syn([10, 255, 0, 2], 65408, [10, 255, 0, 6], 80), &cfg);
        assert_eq!(public.invariant, private.invariant);
        assert_ne!(public.fingerprint, private.fingerprint);
        let outer = decode(LinkType::ETHERNET, &vxlan_icmp(), &cfg);
        let inner = decode(LinkType::ETHERNET, &vxlan_icmp()[14 + 20 + 8 + 8..], &cfg);
        assert_eq!(outer.invariant, inner.invariant);
        let other = decode(LinkType::ETHERNET, &syn([92, 234, 68, 72], 53711, [10, 0, 0, 4], 80)[..], &cfg);
        assert_eq!(other.invariant, public.invariant);
    }

    #[test]
    fn nesting_is_bounded() {
        let mut frame = vxlan_icmp();
        for _ in 0..MAX_TUNNEL_DEPTH + 2 {
            let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
            vx.extend_from_slice(&frame);
            let outer =
                etherparse::PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64).udp(1, 4789);
            let mut out = Vec::new();
            outer.write(&mut out, &vx).unwrap();
            frame = out;
        }
        let d = decode(LinkType::ETHERNET, &frame, &DecodeConfig::default());
        assert_eq!(d.tunnel_count(), MAX_TUNNEL_DEPTH);
        assert_eq!(d.stopped, Some(Stop::TooDeep));
    }
}
