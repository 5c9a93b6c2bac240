//! Microsoft-Windows-NDIS-PacketCapture ("ndiscap"), what `netsh trace
//! capture=yes` and `Add-NetEventPacketCaptureProvider` write: packet
//! fragments (1001), Wi-Fi metadata (1002) and fragments captured at a
//! Hyper-V switch port (1003). See etl-format.md section 3.

use super::fields::Fields;
pub use super::ports::{PortLayout, SwitchPorts};
use super::text::Text;
use crate::capture::etl::Guid;
use crate::event::{Direction, LinkType};

pub const GUID: Guid = super::guid(0x2ed6_006e, 0x4729, 0x4609, [0xb4, 0x23, 0x3e, 0xe7, 0xbc, 0xd6, 0x78, 0xef]);

pub const EVENT_FRAGMENT: u16 = 1001;
pub const EVENT_METADATA: u16 = 1002;
pub const EVENT_VMSWITCH_FRAGMENT: u16 = 1003;

pub mod keyword {
    pub const ETHERNET: u64 = 0x1;
    pub const WIRELESS_WAN: u64 = 0x200;
    pub const TUNNEL: u64 = 0x8000;
    pub const NATIVE_802_11: u64 = 0x1_0000;
    pub const VMSWITCH: u64 = 0x100_0000;
    pub const PACKET_TRUNCATED: u64 = 0x200_0000;
    pub const PACKET_START: u64 = 0x4000_0000;
    pub const PACKET_END: u64 = 0x8000_0000;
    pub const SEND_PATH: u64 = 0x1_0000_0000;
    pub const RECEIVE_PATH: u64 = 0x2_0000_0000;
}

/// Slot of `NetBufferListInfo[]` holding the 802.1Q tag (VLAN id in bits 4-15).
const OOB_SLOT_8021Q: usize = 4;
/// Slot holding the RSS hash value.
const OOB_SLOT_HASH: usize = 8;

/// The link type of a fragment, from the event's keywords: 802.11 frames,
/// raw IP for mobile broadband, Ethernet otherwise.
pub fn link_type(keywords: u64) -> LinkType {
    if keywords & keyword::NATIVE_802_11 != 0 {
        LinkType::IEEE802_11
    } else if keywords & keyword::WIRELESS_WAN != 0 {
        LinkType::RAW
    } else {
        LinkType::ETHERNET
    }
}

pub fn direction(keywords: u64) -> Direction {
    if keywords & keyword::SEND_PATH != 0 {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

/// A Hyper-V switch port the fragment was captured at (event 1003).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwitchPort {
    pub source_port_id: u32,
    pub source_port_name: Text,
    pub source_nic_name: Text,
    pub source_nic_type: Text,
    pub destination_count: u32,
    pub vlan_id: u16,
    pub hash_value: u32,
}

/// One packet fragment event (1001 or 1003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub miniport_if_index: u32,
    pub lower_if_index: u32,
    pub bytes: &'a [u8],
    pub vmswitch: Option<SwitchPort>,
}

/// Wi-Fi receive metadata (1002), applying to the next packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata<'a> {
    pub miniport_if_index: u32,
    pub lower_if_index: u32,
    pub bytes: &'a [u8],
}

/// Event 1001: MiniportIfIndex, LowerIfIndex, FragmentSize, Fragment, then
/// on newer builds two GFT u64s, which we do not need.
pub fn fragment(data: &[u8]) -> Option<Fragment<'_>> {
    let mut f = Fields::new(data);
    let miniport_if_index = f.u32()?;
    let lower_if_index = f.u32()?;
    let size = f.u32()? as usize;
    let bytes = f.bytes(size)?;
    Some(Fragment { miniport_if_index, lower_if_index, bytes, vmswitch: None })
}

/// Event 1002.
pub fn metadata(data: &[u8]) -> Option<Metadata<'_>> {
    let mut f = Fields::new(data);
    let miniport_if_index = f.u32()?;
    let lower_if_index = f.u32()?;
    let size = f.u32()? as usize;
    Some(Metadata { miniport_if_index, lower_if_index, bytes: f.bytes(size)? })
}

/// Event 1003: the 1001 fields plus the switch port and, after the frame,
/// the NBL's out-of-band info array of pointer-sized slots.
pub fn vmswitch_fragment(data: &[u8], pointer_size: usize) -> Option<Fragment<'_>> {
    vmswitch_fragment_cached(data, pointer_size, &mut SwitchPorts::new())
}

/// [`vmswitch_fragment`], taking ports seen before from `ports`.
pub fn vmswitch_fragment_cached<'a>(
    data: &'a [u8],
    pointer_size: usize,
    ports: &mut SwitchPorts,
) -> Option<Fragment<'a>> {
    vmswitch_fragment_at(data, &ports.layout(data)?, pointer_size)
}

/// [`vmswitch_fragment_cached`] with the payload's layout already found
/// (by [`SwitchPorts::layout`], for reassembly).
pub fn vmswitch_fragment_at<'a>(data: &'a [u8], p: &PortLayout, pointer_size: usize) -> Option<Fragment<'a>> {
    let l = &p.layout;
    let part = |(start, len): (u32, u32)| data.get(start as usize..start as usize + len as usize);
    let [source_port_name, source_nic_name, source_nic_type] = p.names.clone();
    let mut port = SwitchPort {
        source_port_id: l.source_port_id,
        source_port_name,
        source_nic_name,
        source_nic_type,
        destination_count: l.destination_count,
        ..Default::default()
    };
    let mut f = Fields::new(data.get(l.after_frame as usize..)?);
    // The OOB array is optional in practice: keep the fragment without it.
    if let Some(oob_size) = f.u32() {
        if let Some(oob) = f.bytes(oob_size as usize) {
            let slot = |i: usize| -> Option<u64> {
                let b = oob.get(i * pointer_size..(i + 1) * pointer_size)?;
                Some(if pointer_size == 4 {
                    u32::from_le_bytes(b.try_into().ok()?) as u64
                } else {
                    u64::from_le_bytes(b.try_into().ok()?)
                })
            };
            port.vlan_id = slot(OOB_SLOT_8021Q).map_or(0, |v| ((v >> 4) & 0xFFF) as u16);
            port.hash_value = slot(OOB_SLOT_HASH).map_or(0, |v| v as u32);
        }
    }
    Some(Fragment {
        miniport_if_index: l.miniport_if_index,
        lower_if_index: l.lower_if_index,
        bytes: part(l.frame)?,
        vmswitch: Some(port),
    })
}

/// [`vmswitch_fragment`]'s (LowerIfIndex, frame) without building the
/// port's names: what reassembly needs. `None` exactly when
/// `vmswitch_fragment` is.
pub fn vmswitch_frame(data: &[u8]) -> Option<(u32, &[u8])> {
    let l = vmswitch_layout(data)?;
    Some((l.lower_if_index, l.frame(data)))
}

/// Where the fields of an event 1003 payload lie, up to and including the
/// frame: the names as raw UTF-16LE and the frame, as (start, length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmswitchLayout {
    miniport_if_index: u32,
    lower_if_index: u32,
    source_port_id: u32,
    source_port_name: (u32, u32),
    source_nic_name: (u32, u32),
    source_nic_type: (u32, u32),
    destination_count: u32,
    frame: (u32, u32),
    /// Where what follows the frame starts.
    after_frame: u32,
}

impl VmswitchLayout {
    pub fn lower_if_index(&self) -> u32 {
        self.lower_if_index
    }

    pub fn source_port_id(&self) -> u32 {
        self.source_port_id
    }

    /// Where the port's, the NIC's and the NIC type's names lie, as
    /// (start, length) of their units.
    pub fn names(&self) -> [(u32, u32); 3] {
        [self.source_port_name, self.source_nic_name, self.source_nic_type]
    }

    /// The frame, in the payload this layout was found in (empty in any
    /// other too short for it).
    pub fn frame<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let (start, len) = self.frame;
        data.get(start as usize..start as usize + len as usize).unwrap_or_default()
    }
}

/// Where an event 1003 payload's names start: after its MiniportIfIndex,
/// LowerIfIndex and SourcePortId.
pub const VMSWITCH_NAMES_AT: usize = 12;

/// The layout of an event 1003 payload; `None` when it is cut short.
/// (Payloads are ETW records, far below 4 GiB, so offsets fit in u32.)
pub fn vmswitch_layout(data: &[u8]) -> Option<VmswitchLayout> {
    u32::try_from(data.len()).ok()?;
    let mut f = Fields::new(data);
    f.bytes(VMSWITCH_NAMES_AT)?;
    // (start, length) of the units of a NUL-terminated name.
    let mut name = || -> Option<(u32, u32)> {
        let start = f.pos() as u32;
        Some((start, f.wstr_units()?.len() as u32))
    };
    let names = [name()?, name()?, name()?];
    vmswitch_layout_after_names(data, names, f.pos())
}

/// The rest of [`vmswitch_layout`] once the three names are known: at
/// `names` (start, length of their units), ending at `names_end`.
pub(super) fn vmswitch_layout_after_names(
    data: &[u8],
    names: [(u32, u32); 3],
    names_end: usize,
) -> Option<VmswitchLayout> {
    u32::try_from(data.len()).ok()?;
    let word = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?)) };
    let mut f = Fields::new(data.get(names_end..)?);
    let destination_count = f.u32()?;
    f.bytes((destination_count as usize).checked_mul(8)?)?;
    let size = f.u32()?;
    let frame = ((names_end + f.pos()) as u32, size);
    f.bytes(size as usize)?;
    Some(VmswitchLayout {
        miniport_if_index: word(0)?,
        lower_if_index: word(4)?,
        source_port_id: word(8)?,
        source_port_name: names[0],
        source_nic_name: names[1],
        source_nic_type: names[2],
        destination_count,
        frame,
        after_frame: (names_end + f.pos()) as u32,
    })
}

/// Writes an event 1001 payload, the inverse of [`fragment`] (the layout of
/// builds without the trailing GFT fields); `generate` uses it.
pub fn emit_fragment(miniport_if_index: u32, lower_if_index: u32, frame: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(12 + frame.len());
    d.extend_from_slice(&miniport_if_index.to_le_bytes());
    d.extend_from_slice(&lower_if_index.to_le_bytes());
    d.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    d.extend_from_slice(frame);
    d
}

/// Writes an event 1003 payload, the inverse of [`vmswitch_fragment`] on a
/// 64-bit host: the port, no destinations, the frame, and the NBL's OOB
/// slots carrying the port's VLAN id and hash.
pub fn emit_vmswitch_fragment(miniport_if_index: u32, lower_if_index: u32, port: &SwitchPort, frame: &[u8]) -> Vec<u8> {
    let wstr = |d: &mut Vec<u8>, s: &str| {
        for u in s.encode_utf16().chain([0]) {
            d.extend_from_slice(&u.to_le_bytes());
        }
    };
    let mut d = Vec::with_capacity(256 + frame.len());
    d.extend_from_slice(&miniport_if_index.to_le_bytes());
    d.extend_from_slice(&lower_if_index.to_le_bytes());
    d.extend_from_slice(&port.source_port_id.to_le_bytes());
    wstr(&mut d, &port.source_port_name);
    wstr(&mut d, &port.source_nic_name);
    wstr(&mut d, &port.source_nic_type);
    d.extend_from_slice(&0u32.to_le_bytes()); // DestinationCount
    d.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    d.extend_from_slice(frame);
    let mut oob = [0u64; OOB_SLOT_HASH + 1];
    oob[OOB_SLOT_8021Q] = (port.vlan_id as u64 & 0xFFF) << 4;
    oob[OOB_SLOT_HASH] = port.hash_value as u64;
    d.extend_from_slice(&((oob.len() * 8) as u32).to_le_bytes());
    for slot in oob {
        d.extend_from_slice(&slot.to_le_bytes());
    }
    d
}

/// The length of the packet on the wire when the capture kept only part of
/// it, from its IP header (etl2pcapng's rule, without its raw-IP bug);
/// never less than what was captured.
pub fn original_length(link: LinkType, frame: &[u8]) -> u32 {
    let captured = frame.len() as u32;
    let (ip, l2) = match link {
        LinkType::ETHERNET if frame.len() >= 14 => match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 | 0x86DD => (&frame[14..], 14u32),
            _ => return captured,
        },
        LinkType::RAW => (frame, 0),
        _ => return captured,
    };
    let inferred = match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 4 => u16::from_be_bytes([ip[2], ip[3]]) as u32 + l2,
        Some(6) if ip.len() >= 6 => u16::from_be_bytes([ip[4], ip[5]]) as u32 + 40 + l2,
        _ => 0,
    };
    inferred.max(captured)
}

/// Rebuilds packets from fragments: a packet is complete at the fragment
/// whose keywords carry PacketEnd. Since Windows 8.1 every packet is one
/// fragment; older systems split them, so partial packets are kept per
/// (CPU, interface) and bounded in size.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Vec<((u32, u32), Vec<u8>)>,
}

/// No Ethernet/802.11 frame is larger; a partial packet that grows past it
/// is damage and is dropped.
const MAX_PACKET: usize = 64 << 10;

impl Reassembler {
    /// Adds a fragment; returns the whole packet when this fragment ends it.
    /// A single-fragment packet is returned without copying.
    pub fn push<'a>(
        &'a mut self,
        cpu: u32,
        if_index: u32,
        keywords: u64,
        bytes: &'a [u8],
    ) -> Option<std::borrow::Cow<'a, [u8]>> {
        let key = (cpu, if_index);
        let start = keywords & keyword::PACKET_START != 0;
        let end = keywords & keyword::PACKET_END != 0;
        let pos = self.pending.iter().position(|(k, _)| *k == key);
        if start {
            if let Some(i) = pos {
                self.pending.swap_remove(i);
            }
            if end {
                return Some(std::borrow::Cow::Borrowed(bytes));
            }
            self.pending.push((key, bytes.to_vec()));
            return None;
        }
        let i = pos?;
        if self.pending[i].1.len() + bytes.len() > MAX_PACKET {
            self.pending.swap_remove(i);
            return None;
        }
        self.pending[i].1.extend_from_slice(bytes);
        if end {
            let (_, packet) = self.pending.swap_remove(i);
            return Some(std::borrow::Cow::Owned(packet));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wstr(s: &str) -> Vec<u8> {
        s.encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn fragment_with_trailing_gft_fields() {
        let mut d = vec![8, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc];
        d.extend_from_slice(&[0; 16]);
        let f = fragment(&d).unwrap();
        assert_eq!((f.lower_if_index, f.bytes), (8, &[0xaa, 0xbb, 0xcc][..]));
        assert!(fragment(&d[..13]).is_none(), "fragment longer than the data");
    }

    #[test]
    fn vmswitch_fragment_with_vlan() {
        let mut d = Vec::new();
        d.extend_from_slice(&5u32.to_le_bytes());
        d.extend_from_slice(&7u32.to_le_bytes());
        d.extend_from_slice(&42u32.to_le_bytes());
        d.extend(wstr("port"));
        d.extend(wstr("nic"));
        d.extend(wstr("Synthetic"));
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&2u32.to_le_bytes());
        d.extend_from_slice(&[1, 2]);
        let mut oob = vec![0u8; 9 * 8];
        oob[4 * 8..4 * 8 + 8].copy_from_slice(&((100u64 << 4) | 3).to_le_bytes());
        oob[8 * 8..8 * 8 + 4].copy_from_slice(&0xdeadbeefu32.to_le_bytes());
        d.extend_from_slice(&(oob.len() as u32).to_le_bytes());
        d.extend(oob);
        let f = vmswitch_fragment(&d, 8).unwrap();
        let p = f.vmswitch.unwrap();
        assert_eq!((f.bytes, p.source_port_id, p.vlan_id, p.hash_value), (&[1, 2][..], 42, 100, 0xdeadbeef));
        assert_eq!((p.source_port_name.as_str(), p.source_nic_type.as_str()), ("port", "Synthetic"));

        // Cut anywhere: nothing panics, and reassembly's frame and the
        // decoding from the layout it found agree with decoding at once.
        for end in 0..=d.len() {
            let cut = &d[..end];
            let whole = vmswitch_fragment(cut, 8);
            let frame = vmswitch_frame(cut);
            assert_eq!(frame, whole.as_ref().map(|f| (f.lower_if_index, f.bytes)), "cut at {end}");
            let at = SwitchPorts::new().layout(cut).and_then(|p| vmswitch_fragment_at(cut, &p, 8));
            assert_eq!(at, whole, "cut at {end}");
        }
    }

    #[test]
    fn emitters_round_trip() {
        let bytes = emit_fragment(5, 7, b"abc");
        let f = fragment(&bytes).unwrap();
        assert_eq!((f.miniport_if_index, f.lower_if_index, f.bytes), (5, 7, &b"abc"[..]));
        let port = SwitchPort {
            source_port_id: 42,
            source_port_name: "port".into(),
            source_nic_name: "nic".into(),
            source_nic_type: "Synthetic".into(),
            destination_count: 0,
            vlan_id: 100,
            hash_value: 0xdead_beef,
        };
        let bytes = emit_vmswitch_fragment(12, 12, &port, b"frame");
        let f = vmswitch_fragment(&bytes, 8).unwrap();
        assert_eq!((f.bytes, f.vmswitch), (&b"frame"[..], Some(port)));
    }

    #[test]
    fn reassembles_split_packets() {
        let mut r = Reassembler::default();
        use keyword::{PACKET_END as E, PACKET_START as S};
        assert_eq!(r.push(0, 1, S | E, b"whole").unwrap().as_ref(), b"whole");
        assert!(r.push(0, 1, S, b"ab").is_none());
        assert!(r.push(1, 1, S | E, b"other").is_some());
        assert!(r.push(0, 1, 0, b"cd").is_none());
        assert_eq!(r.push(0, 1, E, b"ef").unwrap().as_ref(), b"abcdef");
        assert!(r.push(0, 1, E, b"orphan").is_none());
    }

    #[test]
    fn original_length_from_ip() {
        let mut frame = vec![0u8; 14 + 20];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&1500u16.to_be_bytes());
        assert_eq!(original_length(LinkType::ETHERNET, &frame), 1514);
        frame[16..18].copy_from_slice(&0u16.to_be_bytes()); // LSO: length 0
        assert_eq!(original_length(LinkType::ETHERNET, &frame), 34);
    }
}
