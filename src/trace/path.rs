//! A packet's path: the hops where it was seen, from the first capture to
//! its delivery or drop.

use crate::capture::etl::providers::vmswitch::Text;

use crate::packet::{Decoded, Tuple};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HopKind {
    /// Captured at an interface or switch port (pcap, ndiscap).
    Capture,
    /// A pktmon appearance at a component.
    Appearance,
    Received,
    Routed,
    Delivered,
    Dropped,
    Vetoed,
}

impl HopKind {
    pub fn name(self) -> &'static str {
        match self {
            HopKind::Capture => "capture",
            HopKind::Appearance => "appearance",
            HopKind::Received => "received",
            HopKind::Routed => "routed",
            HopKind::Delivered => "delivered",
            HopKind::Dropped => "dropped",
            HopKind::Vetoed => "vetoed",
        }
    }
}

/// Why and by whom a packet was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropNote {
    /// The switch extension, pktmon component or NIC that dropped it.
    pub by: String,
    pub reason: String,
    pub code: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub ts: Timestamp,
    /// The capture point: interface, NIC friendly name or pktmon component.
    pub point: Text,
    pub kind: HopKind,
    pub nbl: Option<u64>,
    pub switch: Option<Text>,
    /// Where a route sends the packet.
    pub to: Option<Text>,
    /// The innermost tuple as the packet looked here, when its bytes were seen.
    pub tuple: Option<Tuple>,
    /// The tunnel id the packet carried here.
    pub vni: Option<u32>,
    /// Boxed: few hops are drops, and every open path holds its hops.
    pub drop: Option<Box<DropNote>>,
}

/// One capture of the packet's bytes, kept for the flow table.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub ts: Timestamp,
    /// (capture index, point id).
    pub point: (u32, u32),
    pub decoded: Decoded,
    pub frame_len: u32,
}

/// All that was seen of one packet.
#[derive(Debug, Clone, Default)]
pub struct PacketPath {
    pub hops: Vec<Hop>,
    pub sightings: Vec<Sighting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Dropped,
    Incomplete,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Dropped => "dropped",
            Verdict::Incomplete => "incomplete",
        }
    }
}

impl PacketPath {
    /// Dropped if any hop dropped or vetoed it; incomplete if a switch
    /// received or routed it and nothing delivered it; delivered otherwise.
    pub fn verdict(&self) -> Verdict {
        let has = |k: HopKind| self.hops.iter().any(|h| h.kind == k);
        if has(HopKind::Dropped) || has(HopKind::Vetoed) {
            Verdict::Dropped
        } else if (has(HopKind::Received) || has(HopKind::Routed)) && !has(HopKind::Delivered) {
            Verdict::Incomplete
        } else {
            Verdict::Delivered
        }
    }

    /// First hop to last hop, in microseconds.
    pub fn latency_us(&self) -> f64 {
        match (self.hops.first(), self.hops.last()) {
            (Some(a), Some(b)) => b.ts.micros_since(a.ts),
            _ => 0.0,
        }
    }

    pub fn first_ts(&self) -> Timestamp {
        self.hops.first().map(|h| h.ts).unwrap_or_default()
    }
}
