//! Microsoft-Windows-Hyper-V-VmSwitch datapath events (53-60): an NBL
//! received from a NIC, routed to another, delivered, vetoed or dropped.
//! See etl-format.md section 4.
//!
//! Every name is a counted string (`u32` length, UTF-16LE, no NUL). Whether
//! the length counts bytes or characters differs between sources, so each
//! event is decoded under both rules and the one that consumes the payload
//! exactly (allowing the optional trailing NBL pointer) wins.

use super::fields::Fields;
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
    pub id: String,
    pub name: String,
}

impl Named {
    /// The friendly name when there is one, else the id.
    pub fn label(&self) -> &str {
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
    Veto { extension: String, from: Named, to: Named, switch: Named },
    ExtensionDrop { nic: Named, switch: Named, extension: Named, reason: String },
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

fn counted(f: &mut Fields<'_>, unit: LenUnit) -> Option<String> {
    let len = f.u32()? as usize;
    let bytes = match unit {
        LenUnit::Bytes => len,
        LenUnit::Chars => len.checked_mul(2)?,
    };
    f.utf16(bytes)
}

fn named(f: &mut Fields<'_>, unit: LenUnit) -> Option<Named> {
    Some(Named { id: counted(f, unit)?, name: counted(f, unit)? })
}

fn decode_with(id: u16, data: &[u8], pointer_size: usize, unit: LenUnit) -> Option<NblEvent> {
    let mut f = Fields::new(data);
    // The NBL pointer was appended in later builds; take it when exactly it remains.
    let trailing_nbl = |f: &mut Fields<'_>| -> Option<Option<u64>> {
        match f.remaining() {
            0 => Some(None),
            n if n == pointer_size => Some(f.pointer(pointer_size)),
            _ => None,
        }
    };
    let ev = match id {
        EVENT_QOS_DROP => NblEvent::QosDrop { reason_code: f.u32()? },
        EVENT_INCOMING_DROP | EVENT_OUTGOING_DROP => {
            let nic = named(&mut f, unit)?;
            let switch = named(&mut f, unit)?;
            let reason_code = f.u32()?;
            if id == EVENT_INCOMING_DROP {
                NblEvent::IncomingDrop { nic, switch, reason_code }
            } else {
                NblEvent::OutgoingDrop { nic, switch, reason_code }
            }
        }
        EVENT_RECEIVE | EVENT_DELIVER => {
            let nic = named(&mut f, unit)?;
            let switch = named(&mut f, unit)?;
            let nbl = trailing_nbl(&mut f)?;
            if id == EVENT_RECEIVE {
                NblEvent::Receive { nic, switch, nbl }
            } else {
                NblEvent::Deliver { nic, switch, nbl }
            }
        }
        EVENT_ROUTE => {
            let from = named(&mut f, unit)?;
            let to = named(&mut f, unit)?;
            let switch = named(&mut f, unit)?;
            NblEvent::Route { from, to, switch, nbl: trailing_nbl(&mut f)? }
        }
        EVENT_VETO => NblEvent::Veto {
            extension: counted(&mut f, unit)?,
            from: named(&mut f, unit)?,
            to: named(&mut f, unit)?,
            switch: named(&mut f, unit)?,
        },
        EVENT_EXTENSION_DROP => NblEvent::ExtensionDrop {
            nic: named(&mut f, unit)?,
            switch: named(&mut f, unit)?,
            extension: named(&mut f, unit)?,
            reason: counted(&mut f, unit)?,
        },
        _ => return None,
    };
    f.is_empty().then_some(ev)
}

/// Decodes a datapath event; `None` for other ids or a payload that fits
/// neither length rule.
pub fn decode(id: u16, data: &[u8], pointer_size: usize) -> Option<NblEvent> {
    decode_with(id, data, pointer_size, LenUnit::Bytes).or_else(|| decode_with(id, data, pointer_size, LenUnit::Chars))
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
    fn lying_length_fails_cleanly() {
        let mut d = Vec::new();
        d.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        d.extend_from_slice(b"ab");
        assert!(decode(EVENT_DELIVER, &d, 8).is_none());
        assert_eq!(drop_reason(14), "Qos drop");
        assert_eq!(drop_reason(999), "Unknown reason");
    }
}
