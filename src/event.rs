//! The one event model every capture reader emits.
//!
//! A pcap record, a pcapng EPB/SPB and an ETL record all become an [`Event`]:
//! when it happened, where (the capture point), and what it is. Events borrow
//! their bytes from the reader's buffer, so a reader hands out one at a time
//! (`next_event(&mut self) -> Option<Event<'_>>`) and nothing is copied unless
//! a later stage decides to keep it.

pub use crate::capture::etl::providers::ndiscap::SwitchPort;
pub use crate::capture::etl::providers::pktmon::{Appearance, PktmonEvent};
pub use crate::capture::etl::providers::vmswitch::NblEvent;
pub use crate::capture::etl::EtlRecord;
use crate::time::Timestamp;

/// Index into the capture's table of [`CapturePoint`]s.
pub type PointId = u32;

/// Link-layer header type, numbered as in the tcpdump/pcap LINKTYPE registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Old BSD value of DLT_RAW that some writers still use.
    pub const RAW_BSD: LinkType = LinkType(12);
    pub const RAW_OPENBSD: LinkType = LinkType(14);
}

/// Where a packet or event was observed: a pcapng interface, a pcap file's
/// single link, an ETL miniport/vSwitch port, a pktmon component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturePoint {
    pub name: String,
    pub description: Option<String>,
    pub link: LinkType,
    /// Bytes per packet the capture kept at most (0 = unknown/unlimited).
    pub snaplen: u32,
}

/// Direction relative to the capture point, as pcapng `epb_flags` bits 0-1
/// encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Unknown,
    Inbound,
    Outbound,
}

/// Per-packet metadata that pcapng options (or ETL fields) carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketMeta<'a> {
    /// Where pktmon saw the packet: group, number, appearance, component...
    pub pktmon: Option<Appearance>,
    /// The Hyper-V switch port of an ndiscap 1003 fragment.
    pub switch_port: Option<SwitchPort>,
    /// The packet was dropped where it was seen (pktmon 170).
    pub dropped: bool,
    pub direction: Direction,
    /// `epb_flags` as written, 0 when absent.
    pub flags: u32,
    /// `epb_packetid`, or pktmon's PktGroupId.
    pub packet_id: Option<u64>,
    /// `epb_verdict` values, raw (type byte followed by data).
    pub verdicts: Vec<&'a [u8]>,
    /// `opt_comment` values.
    pub comments: Vec<&'a str>,
}

/// A captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRecord<'a> {
    pub link: LinkType,
    /// The bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire, which may exceed `data.len()`.
    pub orig_len: u32,
    pub meta: PacketMeta<'a>,
}

/// What an event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind<'a> {
    /// A captured frame: a pcap record, an EPB/SPB, an ndiscap fragment, a
    /// pktmon packet appearance.
    Packet(PacketRecord<'a>),
    /// A Hyper-V switch NBL event: received, routed, delivered, dropped.
    Nbl(NblEvent),
    /// A PktMon component, property, counter or parsed-packet event.
    Pktmon(PktmonEvent<'a>),
    /// An ETL record of a kind we do not decode (it is still counted).
    Other,
}

/// One observation, in the reader's order (pcap order; ETL time order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    pub ts: Timestamp,
    pub point: PointId,
    /// Absolute file offset of the record this event came from.
    pub offset: u64,
    pub kind: EventKind<'a>,
    /// The ETL record header (provider, id, CPU, process, thread...) for
    /// events read from ETL; `None` for pcap and pcapng.
    pub etw: Option<&'a EtlRecord>,
}
