//! TCP conversation state as seen from a capture point: handshake, close,
//! retransmissions and resets.

use crate::packet::TcpSegment;
use crate::spill::{Reader, Spill, Writer};
use crate::time::Timestamp;

/// Where a connection is, by what the capture saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// The first packet we saw was not a SYN.
    Midstream,
    SynSent,
    SynReceived,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN.
    Closed,
    Reset,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Midstream => "midstream",
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
            TcpState::Reset => "reset",
        }
    }
}

/// Per-direction sequence tracking.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Highest sequence number + length sent so far; None before any segment.
    next_seq: Option<u32>,
    fin: bool,
}

/// `a` is after `b` in sequence space (RFC 1982 serial arithmetic).
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Handshake packets as one capture point saw them.
#[derive(Debug, Clone, Copy)]
struct PointTimes {
    point: (u32, u32),
    syn: Option<Timestamp>,
    syn_ack: Option<Timestamp>,
}

/// At most this many capture points are remembered per connection.
const MAX_POINTS: usize = 16;

#[derive(Debug, Clone)]
pub struct TcpTracker {
    pub state: TcpState,
    syn_at: Option<Timestamp>,
    syn_ack_at: Option<Timestamp>,
    points: Vec<PointTimes>,
    pub retransmissions: u64,
    pub resets: u64,
    sides: [Side; 2],
}

impl TcpTracker {
    pub fn new() -> Self {
        TcpTracker {
            state: TcpState::Midstream,
            syn_at: None,
            syn_ack_at: None,
            points: Vec::new(),
            retransmissions: 0,
            resets: 0,
            sides: [Side::default(); 2],
        }
    }

    /// Time from the SYN to the SYN-ACK: the responder's handshake time.
    /// Where several capture points saw both, the one nearest the responder
    /// (the shortest time, from the last SYN seen there to the first SYN-ACK)
    /// answers; otherwise the first SYN and SYN-ACK seen.
    pub fn handshake_us(&self) -> Option<f64> {
        let nearest = self
            .points
            .iter()
            .filter_map(|p| match (p.syn, p.syn_ack) {
                (Some(s), Some(a)) if a >= s => Some(a.micros_since(s)),
                _ => None,
            })
            .min_by(|a, b| a.total_cmp(b));
        nearest.or_else(|| Some(self.syn_ack_at?.micros_since(self.syn_at?)))
    }

    /// Records where and when a SYN or SYN-ACK was seen (every capture of
    /// it, not only the first).
    pub fn note_handshake(&mut self, point: (u32, u32), ts: Timestamp, seg: &TcpSegment) {
        let f = seg.flags;
        if !f.syn || f.rst {
            return;
        }
        let i = match self.points.iter().position(|p| p.point == point) {
            Some(i) => i,
            None if self.points.len() < MAX_POINTS => {
                self.points.push(PointTimes { point, syn: None, syn_ack: None });
                self.points.len() - 1
            }
            None => return,
        };
        // At one point a SYN may be seen twice (the switch's copy and the
        // port capture): the last one before the answer is the one answered.
        let p = &mut self.points[i];
        if f.ack {
            p.syn_ack.get_or_insert(ts);
        } else if p.syn_ack.is_none() {
            p.syn = Some(ts);
        }
    }

    /// Feeds one segment; `reverse` is true for the direction opposite to
    /// the flow's first packet.
    pub fn segment(&mut self, ts: Timestamp, seg: &TcpSegment, reverse: bool) {
        let f = seg.flags;
        let first_ever = self.sides.iter().all(|s| s.next_seq.is_none());
        let side = &mut self.sides[reverse as usize];

        // Sequence space: SYN and FIN each take one number.
        let len = seg.payload_len.wrapping_add(f.syn as u32).wrapping_add(f.fin as u32);
        let end = seg.seq.wrapping_add(len);
        match side.next_seq {
            Some(next) if len > 0 && !seq_after(end, next) => {
                // Nothing new: everything in it was sent before. A one-byte
                // probe just below the window edge is a keep-alive, not a
                // retransmission.
                let keepalive = seg.payload_len <= 1 && !f.syn && !f.fin && end == next;
                if !keepalive {
                    self.retransmissions += 1;
                }
            }
            Some(next) if seq_after(end, next) => side.next_seq = Some(end),
            Some(_) => {}
            None => side.next_seq = Some(end),
        }
        if f.fin {
            side.fin = true;
        }

        if f.rst {
            self.resets += 1;
            self.state = TcpState::Reset;
            return;
        }
        if f.syn && !f.ack {
            if self.syn_at.is_none() {
                self.syn_at = Some(ts);
            }
            if first_ever || self.state == TcpState::SynSent {
                self.state = TcpState::SynSent;
            }
        } else if f.syn && f.ack {
            if self.syn_ack_at.is_none() && self.syn_at.is_some() {
                self.syn_ack_at = Some(ts);
            }
            if matches!(self.state, TcpState::SynSent | TcpState::Midstream) {
                self.state = TcpState::SynReceived;
            }
        } else if f.ack && self.state == TcpState::SynReceived {
            self.state = TcpState::Established;
        }
        if self.sides[0].fin && self.sides[1].fin {
            if self.state != TcpState::Reset {
                self.state = TcpState::Closed;
            }
        } else if f.fin && self.state != TcpState::Reset {
            self.state = TcpState::Closing;
        }
    }
}

/// Every state, in the order the temporary file numbers them.
const STATES: [TcpState; 7] = [
    TcpState::Midstream,
    TcpState::SynSent,
    TcpState::SynReceived,
    TcpState::Established,
    TcpState::Closing,
    TcpState::Closed,
    TcpState::Reset,
];

/// As the temporary file keeps it ([`crate::spill`]).
impl Spill for TcpTracker {
    fn write(&self, w: &mut Writer) {
        w.u8(STATES.iter().position(|s| *s == self.state).unwrap_or(0) as u8);
        w.put(&self.syn_at);
        w.put(&self.syn_ack_at);
        w.u8(self.points.len() as u8);
        for p in &self.points {
            w.u32(p.point.0);
            w.u32(p.point.1);
            w.put(&p.syn);
            w.put(&p.syn_ack);
        }
        w.u64(self.retransmissions);
        w.u64(self.resets);
        for side in &self.sides {
            match side.next_seq {
                Some(seq) => {
                    w.u8(1);
                    w.u32(seq);
                }
                None => w.u8(0),
            }
            w.bool(side.fin);
        }
    }

    fn read(r: &mut Reader) -> Option<Self> {
        let state = *STATES.get(r.u8()? as usize)?;
        let syn_at = r.get()?;
        let syn_ack_at = r.get()?;
        let n = r.u8()? as usize;
        if n > MAX_POINTS {
            return None;
        }
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            points.push(PointTimes { point: (r.u32()?, r.u32()?), syn: r.get()?, syn_ack: r.get()? });
        }
        let retransmissions = r.u64()?;
        let resets = r.u64()?;
        let mut sides = [Side::default(); 2];
        for side in &mut sides {
            side.next_seq = match r.u8()? {
                0 => None,
                1 => Some(r.u32()?),
                _ => return None,
            };
            side.fin = r.bool()?;
        }
        Some(TcpTracker { state, syn_at, syn_ack_at, points, retransmissions, resets, sides })
    }
}

impl Default for TcpTracker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::TcpFlags;

    fn seg(seq: u32, ack: u32, syn: bool, ackf: bool, fin: bool, len: u32) -> TcpSegment {
        TcpSegment { seq, ack, flags: TcpFlags { syn, ack: ackf, fin, rst: false }, window: 0, payload_len: len }
    }

    #[test]
    fn handshake_data_retransmission_close() {
        let mut t = TcpTracker::new();
        t.segment(Timestamp(0), &seg(100, 0, true, false, false, 0), false);
        assert_eq!(t.state, TcpState::SynSent);
        t.segment(Timestamp(277_000), &seg(500, 101, true, true, false, 0), true);
        t.segment(Timestamp(300_000), &seg(101, 501, false, true, false, 0), false);
        assert_eq!(t.state, TcpState::Established);
        assert_eq!(t.handshake_us(), Some(277.0));
        t.segment(Timestamp(400_000), &seg(101, 501, false, true, false, 10), false);
        t.segment(Timestamp(500_000), &seg(101, 501, false, true, false, 10), false);
        assert_eq!(t.retransmissions, 1);
        t.segment(Timestamp(600_000), &seg(111, 501, false, true, true, 0), false);
        assert_eq!(t.state, TcpState::Closing);
        t.segment(Timestamp(700_000), &seg(501, 112, false, true, true, 0), true);
        assert_eq!(t.state, TcpState::Closed);
        assert_eq!(t.retransmissions, 1);
    }

    #[test]
    fn sequence_wraps() {
        let mut t = TcpTracker::new();
        t.segment(Timestamp(0), &seg(u32::MAX - 4, 0, false, true, false, 10), false);
        t.segment(Timestamp(1), &seg(5, 0, false, true, false, 10), false);
        assert_eq!(t.retransmissions, 0);
        t.segment(Timestamp(2), &seg(u32::MAX - 4, 0, false, true, false, 10), false);
        assert_eq!(t.retransmissions, 1);
    }
}
