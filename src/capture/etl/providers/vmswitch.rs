//! Microsoft-Windows-Hyper-V-VmSwitch datapath events (53-60): an NBL
//! received from a NIC, routed to another, delivered, vetoed or dropped.
//! See etl-format.md section 4.
//!
//! Every name is a counted string (`u32` length, UTF-16LE, no NUL). Whether
//! the length counts bytes or characters differs between sources, so each
//! event is decoded under both rules and the one that consumes the payload
//! exactly (allowing the optional trailing NBL pointer) wins.

use super::fields::Fields;
use super::text::ByBytes;
pub use super::text::{NameCache, Text};
use crate::capture::etl::Guid;

pub const GUID: Guid = super::guid(0x67dc_0d66, 0x3695, 0x47c0, [0x96, 0x42, 0x33, 0xf7, 0x6f, 0x7b, 0xd7, 0xad]);

pub const EVENT_QOS_DROP: u16 = 53;
pub const EVENT_INCOMING_DROP: u16 = 54;
pub const EVENT_OUTGOING_DROP: u16 = 55;
pub const EVENT_RECEIVE: u16 = 56;
pub const EVENT_ROUTE: u16 = 57;
pub const EVENT_DELIVER: u16 = 58;
pub const EVENT_VETO: u16 = 59;
pub const EVENT_EXTENSION_DROP: u16 = 60;

/// A NIC or switch: its id (a GUID-like string or device path) and friendly name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Named {
    pub id: Text,
    pub name: Text,
}

impl Named {
    /// The friendly name when there is one, else the id.
    pub fn label(&self) -> &str {
        self.label_text()
    }

    /// [`label`](Self::label) as the [`Text`] it is.
    pub fn label_text(&self) -> &Text {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NblEvent {
    QosDrop { reason_code: u32 },
    IncomingDrop { nic: Named, switch: Named, reason_code: u32 },
    OutgoingDrop { nic: Named, switch: Named, reason_code: u32 },
    Receive { nic: Named, switch: Named, nbl: Option<u64> },
    Route { from: Named, to: Named, switch: Named, nbl: Option<u64> },
    Deliver { nic: Named, switch: Named, nbl: Option<u64> },
    Veto { extension: Text, from: Named, to: Named, switch: Named },
    ExtensionDrop { nic: Named, switch: Named, extension: Named, reason: Text },
}

impl NblEvent {
    pub fn switch(&self) -> Option<&Named> {
        match self {
            NblEvent::QosDrop { .. } => None,
            NblEvent::IncomingDrop { switch, .. }
            | NblEvent::OutgoingDrop { switch, .. }
            | NblEvent::Receive { switch, .. }
            | NblEvent::Route { switch, .. }
            | NblEvent::Deliver { switch, .. }
            | NblEvent::Veto { switch, .. }
            | NblEvent::ExtensionDrop { switch, .. } => Some(switch),
        }
    }

    pub fn nbl(&self) -> Option<u64> {
        match self {
            NblEvent::Receive { nbl, .. } | NblEvent::Route { nbl, .. } | NblEvent::Deliver { nbl, .. } => *nbl,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LenUnit {
    Bytes,
    Chars,
}

/// What follows an event's counted strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    ReasonCode,
    /// The NBL pointer, which later builds append.
    Nbl,
    Nothing,
}

/// The counted strings an event starts with, and what follows them.
fn layout(id: u16) -> Option<(usize, Tail)> {
    Some(match id {
        EVENT_QOS_DROP => (0, Tail::ReasonCode),
        EVENT_INCOMING_DROP | EVENT_OUTGOING_DROP => (4, Tail::ReasonCode),
        EVENT_RECEIVE | EVENT_DELIVER => (4, Tail::Nbl),
        EVENT_ROUTE => (6, Tail::Nbl),
        EVENT_VETO | EVENT_EXTENSION_DROP => (7, Tail::Nothing),
        _ => return None,
    })
}

/// Most strings an event has.
const MAX_STRINGS: usize = 7;

/// An event's fields with its strings still UTF-16LE.
struct Raw<'a> {
    strings: [&'a [u8]; MAX_STRINGS],
    /// How many of `strings` the event has, and where the last one ends.
    count: usize,
    strings_end: usize,
    reason_code: u32,
    nbl: Option<u64>,
}

/// Reads an event under one length rule; `None` unless the payload is
/// consumed exactly. Inlined: returned by value, its seven string slices
/// were copied twice for every NBL event.
#[inline(always)]
fn parse(id: u16, data: &[u8], pointer_size: usize, unit: LenUnit) -> Option<Raw<'_>> {
    let (count, tail) = layout(id)?;
    let mut f = Fields::new(data);
    let mut raw = Raw { strings: [&[]; MAX_STRINGS], count, strings_end: 0, reason_code: 0, nbl: None };
    for s in &mut raw.strings[..count] {
        let len = f.u32()? as usize;
        let bytes = match unit {
            LenUnit::Bytes => len,
            LenUnit::Chars => len.checked_mul(2)?,
        };
        *s = f.bytes(bytes)?;
    }
    raw.strings_end = f.pos();
    match tail {
        Tail::ReasonCode => raw.reason_code = f.u32()?,
        // The NBL pointer was appended in later builds; take it when exactly it remains.
        Tail::Nbl => match f.remaining() {
            0 => {}
            n if n == pointer_size => raw.nbl = f.pointer(pointer_size),
            _ => return None,
        },
        Tail::Nothing => {}
    }
    f.is_empty().then_some(raw)
}

/// An event's strings, decoded in order.
struct Texts<'r> {
    texts: std::slice::Iter<'r, Text>,
}

impl Texts<'_> {
    fn text(&mut self) -> Text {
        self.texts.next().cloned().unwrap_or_default()
    }

    fn named(&mut self) -> Named {
        let id = self.text();
        Named { id, name: self.text() }
    }
}

/// The names of NBL events. An event's strings lie together at its start,
/// and a switch logs the same NICs and switch in event after event: the
/// texts of a whole run of strings are remembered by its bytes, so an
/// event's four to seven names take one look-up, not one each.
#[derive(Debug)]
pub struct NblNames {
    /// Texts by the bytes of the run of strings, length fields included.
    /// The length unit needs no key of its own: the run's length fields
    /// and its own length together decide it, except where every string
    /// is empty, and then every text is empty in either unit.
    runs: ByBytes<Box<[Text]>>,
    names: NameCache,
    /// The texts of a run too long to remember.
    scratch: Vec<Text>,
}

/// The longest run of strings remembered: an event's names take a few
/// hundred bytes, and this bounds what a crafted file can make us keep.
const MAX_REMEMBERED_RUN: usize = 2048;

impl Default for NblNames {
    fn default() -> Self {
        Self::new()
    }
}

impl NblNames {
    pub fn new() -> NblNames {
        NblNames { runs: ByBytes::default(), names: NameCache::counted(), scratch: Vec::new() }
    }

    /// The texts of `raw`'s strings, parsed from `data`.
    fn texts(&mut self, data: &[u8], raw: &Raw<'_>) -> &[Text] {
        let strings = &raw.strings[..raw.count];
        let names = &mut self.names;
        match data.get(..raw.strings_end).filter(|run| run.len() <= MAX_REMEMBERED_RUN) {
            Some(run) => self.runs.get_or_make(run, || strings.iter().map(|s| names.text(s)).collect()),
            None => {
                self.scratch.clear();
                self.scratch.extend(strings.iter().map(|s| names.text(s)));
                &self.scratch
            }
        }
    }
}

fn build(id: u16, raw: &Raw<'_>, texts: &[Text]) -> Option<NblEvent> {
    let mut t = Texts { texts: texts.iter() };
    let (reason_code, nbl) = (raw.reason_code, raw.nbl);
    Some(match id {
        EVENT_QOS_DROP => NblEvent::QosDrop { reason_code },
        EVENT_INCOMING_DROP => NblEvent::IncomingDrop { nic: t.named(), switch: t.named(), reason_code },
        EVENT_OUTGOING_DROP => NblEvent::OutgoingDrop { nic: t.named(), switch: t.named(), reason_code },
        EVENT_RECEIVE => NblEvent::Receive { nic: t.named(), switch: t.named(), nbl },
        EVENT_DELIVER => NblEvent::Deliver { nic: t.named(), switch: t.named(), nbl },
        EVENT_ROUTE => NblEvent::Route { from: t.named(), to: t.named(), switch: t.named(), nbl },
        EVENT_VETO => NblEvent::Veto { extension: t.text(), from: t.named(), to: t.named(), switch: t.named() },
        EVENT_EXTENSION_DROP => {
            NblEvent::ExtensionDrop { nic: t.named(), switch: t.named(), extension: t.named(), reason: t.text() }
        }
        _ => return None,
    })
}

/// Decodes a datapath event; `None` for other ids or a payload that fits
/// neither length rule.
pub fn decode(id: u16, data: &[u8], pointer_size: usize) -> Option<NblEvent> {
    decode_cached(id, data, pointer_size, &mut NblNames::new())
}

/// [`decode`], taking names seen before from `names`.
pub fn decode_cached(id: u16, data: &[u8], pointer_size: usize, names: &mut NblNames) -> Option<NblEvent> {
    let raw =
        parse(id, data, pointer_size, LenUnit::Bytes).or_else(|| parse(id, data, pointer_size, LenUnit::Chars))?;
    let texts = names.texts(data, &raw);
    build(id, &raw, texts)
}

/// VmSwitch packet drop reasons (DropReason of 54/55).
pub fn drop_reason(code: u32) -> &'static str {
    const REASONS: [&str; 37] = [
        "Unknown",
        "Invalid Data",
        "Invalid Packet",
        "Insufficient Resources",
        "Adapter not ready",
        "Media disconnected",
        "NDIS Not Accepted",
        "Device busy",
        "Filtered",
        "VLAN Filtered",
        "Unauthorized VLAN",
        "Unauthorized MAC",
        "Failed Security Policy",
        "Failed PVlan Setting",
        "Qos drop",
        "IPsec drop",
        "Spoofed MAC address is not allowed",
        "Failed DHCP Guard",
        "Failed Router Guard",
        "Bridge is not allowed to run inside VM",
        "Virtual Subnet ID does not match",
        "An extension that is required for connectivity is missing",
        "Invalid switch configuration (vSwitch over vSwitch)",
        "MTU mismatch",
        "Native Forwarding Required",
        "Invalid Packet: VLAN in Ethernet Header",
        "Invalid Packet: NULL Destination MAC",
        "Invalid Packet: Invalid Source MAC",
        "Invalid Packet: First NB too small",
        "Packet Filtered by Windows Network Virtualization",
        "Storm limit exceeded",
        "ICMP Request injected by switch",
        "Failed to update destination list in the packet",
        "The destination NIC is disabled",
        "Packet does not match the packet filter set on the destination NIC",
        "Data flow is disabled on this virtual switch",
        "The port's isolation setting does not allow untagged traffic",
    ];
    REASONS.get(code as usize).copied().unwrap_or("Unknown reason")
}

/// Writes a counted string (length in bytes) — the form `generate` emits.
pub fn emit_counted(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    out.extend_from_slice(&(units.len() as u32).to_le_bytes());
    out.extend_from_slice(&units);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted_chars(out: &mut Vec<u8>, s: &str) {
        let units: Vec<u16> = s.encode_utf16().collect();
        out.extend_from_slice(&(units.len() as u32).to_le_bytes());
        out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    }

    #[test]
    fn receive_with_nbl_pointer_in_bytes_rule() {
        let mut d = Vec::new();
        for s in ["/DEVICE/{DAB8937D}", "Microsoft Hyper-V Network Adapter #5", "A404BC57", "xio0654aj01a6x60kfnoe4r12"]
        {
            emit_counted(&mut d, s);
        }
        d.extend_from_slice(&0xFFFF_880A_4600_B370u64.to_le_bytes());
        match decode(EVENT_RECEIVE, &d, 8).unwrap() {
            NblEvent::Receive { nic, switch, nbl } => {
                assert_eq!(nic.name, "Microsoft Hyper-V Network Adapter #5");
                assert_eq!(switch.label(), "xio0654aj01a6x60kfnoe4r12");
                assert_eq!(nbl, Some(0xFFFF_880A_4600_B370));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extension_drop_in_chars_rule() {
        let mut d = Vec::new();
        for s in [
            "0330EF2B",
            "b1937b9d",
            "A404BC57",
            "xio",
            "{24C70E26}",
            "Virtual Filtering Platform VMSwitch Extension",
            "Outgoing packet dropped by VFP",
        ] {
            counted_chars(&mut d, s);
        }
        match decode(EVENT_EXTENSION_DROP, &d, 8).unwrap() {
            NblEvent::ExtensionDrop { extension, reason, .. } => {
                assert_eq!(extension.name, "Virtual Filtering Platform VMSwitch Extension");
                assert_eq!(reason, "Outgoing packet dropped by VFP");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cached_names_are_shared() {
        let mut d = Vec::new();
        for s in ["nic-id", "nic", "sw-id", "sw"] {
            emit_counted(&mut d, s);
        }
        let mut names = NblNames::new();
        let a = decode_cached(EVENT_DELIVER, &d, 8, &mut names).unwrap();
        let b = decode_cached(EVENT_DELIVER, &d, 8, &mut names).unwrap();
        assert_eq!(a, decode(EVENT_DELIVER, &d, 8).unwrap());
        assert_eq!(a, b);
        let (Some(sa), Some(sb)) = (a.switch(), b.switch()) else { panic!() };
        assert_eq!(sa.name.as_ptr(), sb.name.as_ptr(), "one copy of a name");
    }

    /// Remembered runs of names give every event, whole, cut short or with
    /// bytes changed, in either length unit, what decoding it afresh gives.
    #[test]
    fn remembered_names_decode_as_afresh() {
        let mut rng = crate::test_rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
        let names =
            ["nic-id", "Microsoft Hyper-V Network Adapter #5", "sw", "", "A404BC57", "xio0654aj01a6x60kfnoe4r12"];
        let ids = [
            EVENT_QOS_DROP,
            EVENT_INCOMING_DROP,
            EVENT_OUTGOING_DROP,
            EVENT_RECEIVE,
            EVENT_ROUTE,
            EVENT_DELIVER,
            EVENT_VETO,
            EVENT_EXTENSION_DROP,
        ];
        let mut remembered = NblNames::new();
        for round in 0..20_000 {
            let id = ids[rng.next() as usize % ids.len()];
            let mut d = Vec::new();
            let chars = rng.next() % 3 == 0;
            for _ in 0..layout(id).map_or(0, |(count, _)| count) {
                let name = names[rng.next() as usize % names.len()];
                if chars {
                    counted_chars(&mut d, name);
                } else {
                    emit_counted(&mut d, name);
                }
            }
            // A tail of any length: an NBL pointer, a reason code, or not.
            d.extend((0..rng.next() % 10).map(|_| rng.next() as u8));
            match rng.next() % 4 {
                0 => d.truncate(rng.next() as usize % (d.len() + 1)),
                1 if !d.is_empty() => {
                    let at = rng.next() as usize % d.len();
                    d[at] ^= 1 << (rng.next() % 8);
                }
                _ => {}
            }
            let pointer_size = if rng.next() % 2 == 0 { 8 } else { 4 };
            assert_eq!(
                decode_cached(id, &d, pointer_size, &mut remembered),
                decode(id, &d, pointer_size),
                "round {round}"
            );
        }
        assert!(remembered.runs.len() <= 1024);
    }

    #[test]
    fn lying_length_fails_cleanly() {
        let mut d = Vec::new();
        d.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        d.extend_from_slice(b"ab");
        assert!(decode(EVENT_DELIVER, &d, 8).is_none());
        assert_eq!(drop_reason(14), "Qos drop");
        assert_eq!(drop_reason(999), "Unknown reason");
    }
}
