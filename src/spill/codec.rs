//! Values as bytes for the temporary file: fixed-width little-endian
//! fields, lengths before what they count, written and read back by the
//! same run and never shown to anyone.
//!
//! Reading checks every length against what is left, like any other
//! parser here, and says `None` rather than panicking: the file is ours,
//! but it is still a file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::etl::providers::vmswitch::Text;
use crate::packet::{Proto, TunnelHop, TunnelKind, Tuple};
use crate::time::Timestamp;

/// What can wait in the temporary file.
pub trait Spill: Sized {
    fn write(&self, w: &mut Writer);
    fn read(r: &mut Reader) -> Option<Self>;
}

pub struct Writer<'a>(pub &'a mut Vec<u8>);

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
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    /// Any [`Spill`] value, for symmetry with [`Reader::get`].
    pub fn put<T: Spill>(&mut self, v: &T) {
        v.write(self);
    }
}

pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
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
    pub fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(head)
    }
    pub fn get<T: Spill>(&mut self) -> Option<T> {
        T::read(self)
    }
}

impl Spill for u32 {
    fn write(&self, w: &mut Writer) {
        w.u32(*self)
    }
    fn read(r: &mut Reader) -> Option<Self> {
        r.u32()
    }
}

impl Spill for u64 {
    fn write(&self, w: &mut Writer) {
        w.u64(*self)
    }
    fn read(r: &mut Reader) -> Option<Self> {
        r.u64()
    }
}

impl Spill for Timestamp {
    fn write(&self, w: &mut Writer) {
        w.u64(self.0 as u64)
    }
    fn read(r: &mut Reader) -> Option<Self> {
        Some(Timestamp(r.u64()? as i64))
    }
}

impl<T: Spill> Spill for Option<T> {
    fn write(&self, w: &mut Writer) {
        match self {
            Some(v) => {
                w.u8(1);
                v.write(w);
            }
            None => w.u8(0),
        }
    }
    fn read(r: &mut Reader) -> Option<Self> {
        match r.u8()? {
            0 => Some(None),
            1 => Some(Some(T::read(r)?)),
            _ => None,
        }
    }
}

impl<T: Spill> Spill for Vec<T> {
    fn write(&self, w: &mut Writer) {
        w.u32(self.len() as u32);
        self.iter().for_each(|v| v.write(w));
    }
    fn read(r: &mut Reader) -> Option<Self> {
        let n = r.u32()? as usize;
        // Every value takes a byte at least: a damaged count cannot ask
        // for more room than the rest of the chunk.
        if n > r.bytes.len() {
            return None;
        }
        (0..n).map(|_| T::read(r)).collect()
    }
}

impl Spill for String {
    fn write(&self, w: &mut Writer) {
        w.bytes(self.as_bytes())
    }
    fn read(r: &mut Reader) -> Option<Self> {
        String::from_utf8(r.bytes()?.to_vec()).ok()
    }
}

/// Read back interned: the texts spilled are point names, which repeat.
impl Spill for Text {
    fn write(&self, w: &mut Writer) {
        w.bytes(self.as_bytes())
    }
    fn read(r: &mut Reader) -> Option<Self> {
        Some(Text::intern(std::str::from_utf8(r.bytes()?).ok()?))
    }
}

impl Spill for IpAddr {
    fn write(&self, w: &mut Writer) {
        match self {
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
    fn read(r: &mut Reader) -> Option<Self> {
        match r.u8()? {
            4 => Some(IpAddr::V4(Ipv4Addr::from(r.take::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(r.take::<16>()?))),
            _ => None,
        }
    }
}

impl Spill for Tuple {
    fn write(&self, w: &mut Writer) {
        let (tag, number) = match self.proto {
            Proto::Tcp => (0, 0),
            Proto::Udp => (1, 0),
            Proto::Icmp => (2, 0),
            Proto::Icmpv6 => (3, 0),
            Proto::Arp => (4, 0),
            Proto::Ip(n) => (5, n),
        };
        w.u8(tag);
        w.u8(number);
        w.put(&self.src);
        w.put(&self.dst);
        w.u16(self.src_port);
        w.u16(self.dst_port);
    }
    fn read(r: &mut Reader) -> Option<Self> {
        let proto = match (r.u8()?, r.u8()?) {
            (0, _) => Proto::Tcp,
            (1, _) => Proto::Udp,
            (2, _) => Proto::Icmp,
            (3, _) => Proto::Icmpv6,
            (4, _) => Proto::Arp,
            (5, n) => Proto::Ip(n),
            _ => return None,
        };
        Some(Tuple { proto, src: r.get()?, dst: r.get()?, src_port: r.u16()?, dst_port: r.u16()? })
    }
}

impl Spill for TunnelHop {
    fn write(&self, w: &mut Writer) {
        w.u8(match self.kind {
            TunnelKind::Vxlan => 0,
            TunnelKind::VxlanGpe => 1,
            TunnelKind::Geneve => 2,
        });
        w.u32(self.vni);
        w.put(&self.outer);
    }
    fn read(r: &mut Reader) -> Option<Self> {
        let kind = match r.u8()? {
            0 => TunnelKind::Vxlan,
            1 => TunnelKind::VxlanGpe,
            2 => TunnelKind::Geneve,
            _ => return None,
        };
        Some(TunnelHop { kind, vni: r.u32()?, outer: r.get()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Spill + PartialEq + std::fmt::Debug>(v: T) {
        let mut bytes = Vec::new();
        v.write(&mut Writer(&mut bytes));
        let mut r = Reader::new(&bytes);
        assert_eq!(r.get::<T>().as_ref(), Some(&v));
        assert!(r.is_empty());
        // Every shorter read fails instead of panicking.
        for cut in 0..bytes.len() {
            assert_eq!(Reader::new(&bytes[..cut]).get::<T>(), None, "{v:?} cut at {cut}");
        }
    }

    #[test]
    fn values_read_back_as_written() {
        let t = Tuple {
            proto: Proto::Ip(47),
            src: "fe80::1".parse().unwrap(),
            dst: "10.0.0.1".parse().unwrap(),
            src_port: 1,
            dst_port: 65535,
        };
        round_trip(t);
        round_trip(TunnelHop { kind: TunnelKind::Geneve, vni: 7, outer: t });
        round_trip(Some(Timestamp(-5)));
        round_trip(None::<u64>);
        round_trip(vec!["é".to_string(), String::new()]);
        round_trip(Text::from("vSwitch"));
    }

    #[test]
    fn a_damaged_count_is_refused() {
        let mut bytes = Vec::new();
        Writer(&mut bytes).u32(u32::MAX);
        assert_eq!(Reader::new(&bytes).get::<Vec<u64>>(), None);
        assert_eq!(Reader::new(&bytes).get::<String>(), None);
    }
}
