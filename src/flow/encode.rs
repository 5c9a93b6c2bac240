//! Flows as bytes, for the spill file of [`super::store`]: fixed-width
//! little-endian fields, written and read back by the same run, never
//! shown to anyone.
//!
//! Reading checks every length against what is left, like any other
//! parser here, and says `None` rather than panicking: the file is ours,
//! but it is still a file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Flow, Sighting, TcpTracker, RECENT_SIGHTINGS};
use crate::packet::{Proto, TunnelHop, TunnelKind, Tuple, MAX_TUNNEL_DEPTH};
use crate::time::Timestamp;

pub(super) struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn ts(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.0.to_le_bytes());
    }
    pub fn opt_ts(&mut self, t: Option<Timestamp>) {
        match t {
            Some(t) => {
                self.u8(1);
                self.ts(t);
            }
            None => self.u8(0),
        }
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
}

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take()?))
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take()?))
    }
    pub fn ts(&mut self) -> Option<Timestamp> {
        Some(Timestamp(i64::from_le_bytes(self.take()?)))
    }
    pub fn opt_ts(&mut self) -> Option<Option<Timestamp>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.ts()?)),
            _ => None,
        }
    }
    pub fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

fn write_addr(w: &mut Writer, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            w.u8(4);
            w.0.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            w.u8(6);
            w.0.extend_from_slice(&v6.octets());
        }
    }
}

fn read_addr(r: &mut Reader) -> Option<IpAddr> {
    match r.u8()? {
        4 => Some(IpAddr::V4(Ipv4Addr::from(r.take::<4>()?))),
        6 => Some(IpAddr::V6(Ipv6Addr::from(r.take::<16>()?))),
        _ => None,
    }
}

fn write_tuple(w: &mut Writer, t: &Tuple) {
    let (tag, number) = match t.proto {
        Proto::Tcp => (0, 0),
        Proto::Udp => (1, 0),
        Proto::Icmp => (2, 0),
        Proto::Icmpv6 => (3, 0),
        Proto::Arp => (4, 0),
        Proto::Ip(n) => (5, n),
    };
    w.u8(tag);
    w.u8(number);
    write_addr(w, t.src);
    write_addr(w, t.dst);
    w.u16(t.src_port);
    w.u16(t.dst_port);
}

fn read_tuple(r: &mut Reader) -> Option<Tuple> {
    let proto = match (r.u8()?, r.u8()?) {
        (0, _) => Proto::Tcp,
        (1, _) => Proto::Udp,
        (2, _) => Proto::Icmp,
        (3, _) => Proto::Icmpv6,
        (4, _) => Proto::Arp,
        (5, n) => Proto::Ip(n),
        _ => return None,
    };
    Some(Tuple { proto, src: read_addr(r)?, dst: read_addr(r)?, src_port: r.u16()?, dst_port: r.u16()? })
}

fn write_hops(w: &mut Writer, hops: &[TunnelHop]) {
    w.u8(hops.len() as u8);
    for h in hops {
        w.u8(match h.kind {
            TunnelKind::Vxlan => 0,
            TunnelKind::VxlanGpe => 1,
            TunnelKind::Geneve => 2,
        });
        w.u32(h.vni);
        write_tuple(w, &h.outer);
    }
}

fn read_hops(r: &mut Reader) -> Option<Vec<TunnelHop>> {
    let n = r.u8()? as usize;
    if n > MAX_TUNNEL_DEPTH {
        return None;
    }
    let mut hops = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = match r.u8()? {
            0 => TunnelKind::Vxlan,
            1 => TunnelKind::VxlanGpe,
            2 => TunnelKind::Geneve,
            _ => return None,
        };
        hops.push(TunnelHop { kind, vni: r.u32()?, outer: read_tuple(r)? });
    }
    Some(hops)
}

fn write_sighting(w: &mut Writer, s: &Sighting) {
    w.u64(s.fingerprint);
    w.u32(s.point.0);
    w.u32(s.point.1);
    w.ts(s.ts);
}

fn read_sighting(r: &mut Reader) -> Option<Sighting> {
    Some(Sighting { fingerprint: r.u64()?, point: (r.u32()?, r.u32()?), ts: r.ts()? })
}

/// Appends `flow` to `out`.
pub(super) fn write_flow(out: &mut Vec<u8>, flow: &Flow) {
    let w = &mut Writer(out);
    w.u64(flow.id);
    write_tuple(w, &flow.fwd);
    write_hops(w, &flow.tunnels_fwd);
    match &flow.tunnels_rev {
        Some(hops) => {
            w.u8(1);
            write_hops(w, hops);
        }
        None => w.u8(0),
    }
    for v in [flow.packets, flow.bytes, flow.inner_ip_bytes].iter().flatten() {
        w.u64(*v);
    }
    w.ts(flow.first_seen);
    w.ts(flow.last_seen);
    match &flow.tcp {
        Some(tcp) => {
            w.u8(1);
            tcp.write(w);
        }
        None => w.u8(0),
    }
    w.u64(flow.sightings);
    match &flow.recent {
        Some(ring) => {
            w.u8(1);
            ring.iter().for_each(|s| write_sighting(w, s));
        }
        None => w.u8(0),
    }
    w.u8(flow.recent_next as u8);
}

/// Reads back a flow [`write_flow`] wrote.
pub(super) fn read_flow(r: &mut Reader) -> Option<Flow> {
    let id = r.u64()?;
    let fwd = read_tuple(r)?;
    let tunnels_fwd = read_hops(r)?;
    let tunnels_rev = match r.u8()? {
        0 => None,
        1 => Some(read_hops(r)?),
        _ => return None,
    };
    let mut counts = [0u64; 6];
    for c in &mut counts {
        *c = r.u64()?;
    }
    let first_seen = r.ts()?;
    let last_seen = r.ts()?;
    let tcp = match r.u8()? {
        0 => None,
        1 => Some(TcpTracker::read(r)?),
        _ => return None,
    };
    let sightings = r.u64()?;
    let recent = match r.u8()? {
        0 => None,
        1 => {
            let mut ring = Box::new([Sighting::default(); RECENT_SIGHTINGS]);
            for s in ring.iter_mut() {
                *s = read_sighting(r)?;
            }
            Some(ring)
        }
        _ => return None,
    };
    let recent_next = r.u8()? as usize;
    if recent_next >= RECENT_SIGHTINGS {
        return None;
    }
    Some(Flow {
        id,
        fwd,
        tunnels_fwd,
        tunnels_rev,
        packets: [counts[0], counts[1]],
        bytes: [counts[2], counts[3]],
        inner_ip_bytes: [counts[4], counts[5]],
        first_seen,
        last_seen,
        tcp,
        sightings,
        recent,
        recent_next,
    })
}
