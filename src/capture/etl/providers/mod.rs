//! Decoders for the payloads of the providers overlay-trace understands:
//! NDIS packet capture, Hyper-V VmSwitch and PktMon. Each takes an event's
//! user data (and what the record header says about it) and returns typed
//! fields, or `None` when the payload does not fit the event's template.

pub mod fields;
pub mod ndiscap;
pub mod pktmon;
pub mod ports;
pub mod text;
pub mod vmswitch;

use super::Guid;

/// A GUID from its text fields, as a constant: the on-disk bytes (Data1..3
/// little-endian, Data4 as is), compared with a record's provider id
/// without parsing text.
pub const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    Guid([a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]])
}

/// Microsoft-Windows-Ras-NdisWanPacketCapture (VPN packets), 5001/5002.
pub mod rasndiswan {
    use super::fields::Fields;
    use super::Guid;

    pub const GUID: Guid = super::guid(0xd845_21f7, 0x2235, 0x4237, [0xa7, 0xc0, 0x14, 0xe3, 0xa9, 0x67, 0x62, 0x86]);
    pub const EVENT_SEND: u16 = 5001;
    pub const EVENT_RECEIVE: u16 = 5002;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Packet<'a> {
        pub routing_domain: String,
        pub user: String,
        pub bytes: &'a [u8],
    }

    pub fn decode(data: &[u8]) -> Option<Packet<'_>> {
        let mut f = Fields::new(data);
        let routing_domain = f.wstr()?;
        let user = f.wstr()?;
        let size = f.u32()? as usize;
        Some(Packet { routing_domain, user, bytes: f.bytes(size)? })
    }
}

/// Provider names for the GUIDs we know, for output.
pub fn provider_name(guid: &Guid) -> Option<&'static str> {
    match *guid {
        ndiscap::GUID => Some("Microsoft-Windows-NDIS-PacketCapture"),
        vmswitch::GUID => Some("Microsoft-Windows-Hyper-V-VmSwitch"),
        pktmon::GUID => Some("Microsoft-Windows-PktMon"),
        rasndiswan::GUID => Some("Microsoft-Windows-Ras-NdisWanPacketCapture"),
        _ => None,
    }
}
