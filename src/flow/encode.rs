//! Flows as the temporary file keeps them ([`crate::spill`]).

use super::{Flow, Sighting, TcpTracker, RECENT_SIGHTINGS};
use crate::packet::MAX_TUNNEL_DEPTH;
use crate::spill::{Reader, Spill, Writer};

impl Spill for Sighting {
    fn write(&self, w: &mut Writer) {
        w.u64(self.fingerprint);
        w.u32(self.point.0);
        w.u32(self.point.1);
        w.put(&self.ts);
    }
    fn read(r: &mut Reader) -> Option<Self> {
        Some(Sighting { fingerprint: r.u64()?, point: (r.u32()?, r.u32()?), ts: r.get()? })
    }
}

impl Spill for Flow {
    fn write(&self, w: &mut Writer) {
        w.u64(self.id);
        w.put(&self.fwd);
        w.put(&self.tunnels_fwd);
        w.put(&self.tunnels_rev);
        for v in [self.packets, self.bytes, self.inner_ip_bytes].iter().flatten() {
            w.u64(*v);
        }
        w.put(&self.first_seen);
        w.put(&self.last_seen);
        w.put(&self.tcp);
        w.u64(self.sightings);
        match &self.recent {
            Some(ring) => {
                w.u8(1);
                ring.iter().for_each(|s| w.put(s));
            }
            None => w.u8(0),
        }
        w.u8(self.recent_next as u8);
    }

    fn read(r: &mut Reader) -> Option<Self> {
        let id = r.u64()?;
        let fwd = r.get()?;
        let tunnels_fwd: Vec<_> = r.get()?;
        let tunnels_rev: Option<Vec<_>> = r.get()?;
        if tunnels_fwd.len() > MAX_TUNNEL_DEPTH || tunnels_rev.as_ref().is_some_and(|t| t.len() > MAX_TUNNEL_DEPTH) {
            return None;
        }
        let mut counts = [0u64; 6];
        for c in &mut counts {
            *c = r.u64()?;
        }
        let first_seen = r.get()?;
        let last_seen = r.get()?;
        let tcp: Option<TcpTracker> = r.get()?;
        let sightings = r.u64()?;
        let recent = match r.u8()? {
            0 => None,
            1 => {
                let mut ring = Box::new([Sighting::default(); RECENT_SIGHTINGS]);
                for s in ring.iter_mut() {
                    *s = r.get()?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::TcpTracker;
    use crate::packet::{Proto, TunnelHop, TunnelKind, Tuple};
    use crate::time::Timestamp;

    fn flow(i: u64) -> Flow {
        let tuple = |a: u8, p: u16| Tuple {
            proto: if i % 3 == 0 { Proto::Ip(132) } else { Proto::Udp },
            src: [10, 0, a, (i % 250) as u8].into(),
            dst: std::net::Ipv6Addr::LOCALHOST.into(),
            src_port: p,
            dst_port: 53,
        };
        let hop = TunnelHop { kind: TunnelKind::Geneve, vni: i as u32, outer: tuple(9, 6081) };
        let mut tcp = TcpTracker::new();
        if i % 4 == 1 {
            let syn = crate::packet::TcpSegment {
                flags: crate::packet::TcpFlags { syn: true, ..Default::default() },
                ..Default::default()
            };
            tcp.note_handshake((1, 2), Timestamp(9), &syn);
            tcp.segment(Timestamp(9), &syn, false);
        }
        Flow {
            id: i + 1,
            fwd: tuple(1, i as u16),
            tunnels_fwd: vec![hop; (i % 3) as usize],
            tunnels_rev: (i % 2 == 0).then(|| vec![hop]),
            packets: [i, 1],
            bytes: [i * 100, 7],
            inner_ip_bytes: [i * 90, 3],
            first_seen: Timestamp(i as i64),
            last_seen: Timestamp(i as i64 * 2),
            tcp: (i % 4 != 0).then_some(tcp),
            sightings: i,
            recent: (i % 5 == 0)
                .then(|| Box::new([Sighting { fingerprint: i, point: (1, 2), ts: Timestamp(-5) }; RECENT_SIGHTINGS])),
            recent_next: (i % 8) as usize,
        }
    }

    #[test]
    fn flows_read_back_as_written() {
        for i in 0..40 {
            let f = flow(i);
            let mut bytes = Vec::new();
            f.write(&mut Writer(&mut bytes));
            let mut r = Reader::new(&bytes);
            let back: Flow = r.get().unwrap_or_else(|| panic!("flow {i} did not read back"));
            assert!(r.is_empty());
            assert_eq!(format!("{back:?}"), format!("{f:?}"));
            assert!(Reader::new(&bytes[..bytes.len() - 1]).get::<Flow>().is_none());
        }
    }
}
