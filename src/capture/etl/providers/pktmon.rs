//! Microsoft-Windows-PktMon: components and their properties (20-75),
//! counters (80, 90), and per-appearance packet events (120-190), each
//! carrying the (PktGroupId, PktNumber, AppearanceCount) that orders one
//! packet's sightings along the stack. See etl-format.md section 5.

use std::net::IpAddr;

use super::fields::Fields;
use crate::capture::etl::Guid;
use crate::event::LinkType;

pub const GUID: Guid = super::guid(0x4d4f_80d9, 0xc8bd, 0x4d73, [0xbb, 0x5b, 0x19, 0xc9, 0x04, 0x02, 0xc5, 0xac]);

pub const EVENT_COMPONENT: u16 = 20;
pub const EVENT_DROP_COUNTERS: u16 = 80;
pub const EVENT_FLOW_COUNTERS: u16 = 90;
pub const EVENT_PACKET: u16 = 160;
pub const EVENT_PACKET_DROP: u16 = 170;

/// Where and how a packet was seen: the fields shared by events 120-190.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Appearance {
    pub group: u64,
    pub number: u16,
    pub appearance: u16,
    pub direction: u16,
    pub packet_type: u16,
    pub component: u16,
    pub edge: u16,
    pub filter: u16,
    pub drop_reason: u32,
    pub drop_location: u32,
}

/// A packet event with its bytes (160, or 170 for a drop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub at: Appearance,
    pub dropped: bool,
    pub original_size: u16,
    pub logged_size: u16,
    pub bytes: &'a [u8],
}

/// A packet event without bytes, with the addresses pktmon parsed (120-150).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub at: Appearance,
    pub dropped: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: u16,
    pub kind: u16,
    pub name: String,
    pub description: String,
}

/// A component property (events 30-75), value rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub component: u16,
    pub kind: u16,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub component: u16,
    /// Events 90 name the edge; drop counters (80) do not.
    pub edge: Option<(u16, String)>,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PktmonEvent<'a> {
    Packet(Packet<'a>),
    Parsed(Parsed),
    Component(Component),
    Property(Property),
    Counters(Counters),
}

fn appearance(f: &mut Fields<'_>) -> Option<Appearance> {
    Some(Appearance {
        group: f.u64()?,
        number: f.u16()?,
        appearance: f.u16()?,
        direction: f.u16()?,
        packet_type: f.u16()?,
        component: f.u16()?,
        edge: f.u16()?,
        filter: f.u16()?,
        drop_reason: f.u32()?,
        drop_location: f.u32()?,
    })
}

fn parsed(f: &mut Fields<'_>, v6: bool, dropped: bool) -> Option<Parsed> {
    f.bytes(6 + 6 + 2 + 2)?; // MACs, EtherType, VLAN
    let (dst, src): (IpAddr, IpAddr) = if v6 {
        (f.array::<16>()?.into(), f.array::<16>()?.into())
    } else {
        (f.array::<4>()?.into(), f.array::<4>()?.into())
    };
    let protocol = f.u8()?;
    let dst_port = f.u16()?;
    let src_port = f.u16()?;
    let tcp_flags = f.u8()?;
    let at = appearance(f)?;
    Some(Parsed { at, dropped, src, dst, protocol, src_port, dst_port, tcp_flags })
}

fn property_value(id: u16, f: &mut Fields<'_>) -> Option<String> {
    Some(match id {
        30 => f.u32()?.to_string(),
        40 => {
            let g = f.bytes(16)?;
            let d1 = u32::from_le_bytes(g[0..4].try_into().ok()?);
            let d2 = u16::from_le_bytes(g[4..6].try_into().ok()?);
            let d3 = u16::from_le_bytes(g[6..8].try_into().ok()?);
            let tail: String = g[8..]
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 2 { format!("-{b:02x}") } else { format!("{b:02x}") })
                .collect();
            format!("{d1:08x}-{d2:04x}-{d3:04x}-{tail}")
        }
        50 => format!("{:#x}", f.u32()?),
        60 => f.u16()?.to_string(),
        65 => IpAddr::from(f.array::<4>()?).to_string(),
        66 => IpAddr::from(f.array::<16>()?).to_string(),
        70 => {
            let size = f.u32()? as usize;
            let b = f.bytes(size)?;
            b.iter().take(6).map(|x| format!("{x:02X}")).collect::<Vec<_>>().join("-")
        }
        73 => f.wstr()?,
        75 => format!("{:#06x}", f.u16()?),
        _ => return None,
    })
}

/// Decodes a PktMon event; `None` for ids we do not know or a payload too
/// short for its template (trailing bytes of newer builds are ignored).
pub fn decode(id: u16, data: &[u8]) -> Option<PktmonEvent<'_>> {
    let mut f = Fields::new(data);
    Some(match id {
        EVENT_COMPONENT => PktmonEvent::Component(Component {
            id: f.u16()?,
            kind: f.u16()?,
            name: f.wstr()?,
            description: f.wstr().unwrap_or_default(),
        }),
        30 | 40 | 50 | 60 | 65 | 66 | 70 | 73 | 75 => {
            let component = f.u16()?;
            let kind = f.u16()?;
            PktmonEvent::Property(Property { component, kind, value: property_value(id, &mut f)? })
        }
        EVENT_DROP_COUNTERS | EVENT_FLOW_COUNTERS => {
            let component = f.u16()?;
            let edge = if id == EVENT_FLOW_COUNTERS {
                let name = f.wstr()?;
                Some((f.u16()?, name))
            } else {
                None
            };
            let _dir_in = f.u16()?;
            let packets_in = f.u64()?;
            let bytes_in = f.u64()?;
            let _dir_out = f.u16()?;
            let packets_out = f.u64()?;
            let bytes_out = f.u64()?;
            PktmonEvent::Counters(Counters { component, edge, packets_in, bytes_in, packets_out, bytes_out })
        }
        120 | 140 => PktmonEvent::Parsed(parsed(&mut f, false, id == 140)?),
        130 | 150 => PktmonEvent::Parsed(parsed(&mut f, true, id == 150)?),
        EVENT_PACKET | EVENT_PACKET_DROP => {
            let at = appearance(&mut f)?;
            let original_size = f.u16()?;
            let logged_size = f.u16()?;
            let bytes = f.bytes(logged_size as usize)?;
            PktmonEvent::Packet(Packet { at, dropped: id == EVENT_PACKET_DROP, original_size, logged_size, bytes })
        }
        _ => return None,
    })
}

/// DirTag as pktmon prints it.
pub fn direction_name(tag: u16) -> &'static str {
    match tag {
        0 => "None",
        1 => "In",
        2 => "Out",
        3 => "Rx",
        4 => "Tx",
        5 => "Ingress",
        6 => "Egress",
        _ => "Unknown",
    }
}

/// PacketType as pktmon prints it.
pub fn packet_type_name(t: u16) -> &'static str {
    match t {
        0 => "Unknown",
        1 => "Ethernet",
        2 => "WiFi",
        3 => "IP",
        4 => "HTTP",
        5 => "TCP",
        6 => "UDP",
        7 => "ARP",
        8 => "ICMP",
        9 => "ESP",
        10 => "AH",
        11 => "L4Payload",
        _ => "Unknown",
    }
}

/// The link type of the logged bytes; `None` where pktmon logged something
/// other than a frame or an IP packet.
pub fn link_type(packet_type: u16) -> Option<LinkType> {
    match packet_type {
        1 => Some(LinkType::ETHERNET),
        2 => Some(LinkType::IEEE802_11),
        3 => Some(LinkType::RAW),
        _ => None,
    }
}

pub fn component_type_name(t: u16) -> &'static str {
    match t {
        1 => "NDIS",
        2 => "Miniport",
        3 => "Filter",
        4 => "Protocol",
        5 => "VmsVmNic",
        6 => "VmsMiniport",
        7 => "VmsExtMiniport",
        8 => "VmsProtocolNic",
        9 => "NetVsc Miniport",
        _ => "Unknown",
    }
}

/// Drop reason text. Codes above 38 were renumbered in Windows 10 1903
/// (build 18362): `build` picks the table.
pub fn drop_reason(code: u32, build: u32) -> String {
    const LOW: [&str; 39] = [
        "Unspecified",
        "Invalid Data",
        "Invalid Packet",
        "Insufficient resources",
        "Adapter not ready",
        "Media Disconnected",
        "Not accepted",
        "Device busy",
        "Filtered",
        "Filtered VLAN",
        "Unauthorized VLAN",
        "Unauthorized MAC",
        "Failed security policy",
        "Failed pVlan setting",
        "QoS drop",
        "IPSec drop",
        "Spoofed MAC address is not allowed",
        "Failed DHCP guard",
        "Failed Router Guard",
        "Bridge is not allowed inside VM",
        "Virtual Subnet ID does not match",
        "Required vSwitch extension is missing",
        "Creating vSwitch over another vSwitch is not allowed",
        "MTU mismatch",
        "Native forwarding required",
        "Invalid VLAN format",
        "Invalid destination MAC",
        "Invalid source MAC",
        "First NB too small",
        "Windows Network Virtualization error",
        "Storm limit exceeded",
        "ICMP request injected by switch",
        "Failed to update destination list",
        "Destination NIC is disabled",
        "Packet does not match destination NIC packet filter",
        "vSwitch data flow is disabled",
        "Port isolation setting does not allow untagged traffic",
        "Invalid PD queue",
        "Adapter is in low power state",
    ];
    if let Some(s) = LOW.get(code as usize) {
        return s.to_string();
    }
    let old = build != 0 && build < 18362;
    let named = match (code, old) {
        (101, true) => "Adapter paused",
        (102, true) => "Adapter reset in progress",
        (103, true) => "Send aborted",
        (104, true) => "Unsupported EtherType",
        (201, true) => "Microport error",
        (202, true) => "VF not ready",
        (203, true) => "Microport not ready",
        (204, true) => "VMBus error",
        (201, false) => "Pause",
        (202, false) => "Reset",
        (203, false) => "SendAborted",
        (204, false) => "ProtocolNotBound",
        (205, false) => "Failure",
        (206, false) => "InvalidLength",
        (207, false) => "HostOutOfMemory",
        (208, false) => "FrameTooLong",
        (209, false) => "FrameTooShort",
        (210, false) => "FrameLengthError",
        (211, false) => "CrcError",
        (212, false) => "BadFrameChecksum",
        (213, false) => "FcsError",
        (214, false) => "SymbolError",
        (215, false) => "HeadQTimeout",
        (216, false) => "StalledDiscard",
        (217, false) => "RxQFull",
        (218, false) => "PhysLayerError",
        (219, false) => "DmaError",
        (220, false) => "FirmwareError",
        (221, false) => "DecryptionFailed",
        (222, false) => "BadSignature",
        (223, false) => "CoalescingError",
        (225, false) => "VlanSpoofing",
        (226, false) => "UnallowedEtherType",
        (227, false) => "VportDown",
        (228, false) => "SteeringMismatch",
        (401, _) => "MicroportError",
        (402, _) => "VfNotReady",
        (403, _) => "MicroportNotReady",
        (404, _) => "VMBusError",
        (601, _) => "LoopbackPacket",
        (602, _) => "InvalidSnapHeader",
        (603, _) => "InvalidEthernetType",
        (604, _) => "InvalidPacketLength",
        (605, _) => "HeaderNotContiguous",
        (606, _) => "InvalidDestinationType",
        (607, _) => "InterfaceNotReady",
        (608, _) => "ProviderNotReady",
        (609, _) => "InvalidLsoInfo",
        (610, _) => "InvalidUsoInfo",
        (611, _) => "InvalidMedium",
        (612, _) => "InvalidArpHeader",
        (613, _) => "NoClientInterface",
        (614, _) => "TooManyNetBuffers",
        (615, _) => "FlsNpiClientDrop",
        (701, _) => "ArpGuard",
        (702, _) => "ArpLimiter",
        (703, _) => "DhcpLimiter",
        (704, _) => "BlockBroadcast",
        (705, _) => "BlockNonIp",
        (706, _) => "ArpFilter",
        (707, _) => "Ipv4Guard",
        (708, _) => "Ipv6Guard",
        (709, _) => "MacGuard",
        (710, _) => "BroadcastNoDestinations",
        (711, _) => "UnicastNoDestination",
        (712, _) => "UnicastPortNotReady",
        (713, _) => "SwitchCallbackFailed",
        (714, _) => "Icmpv6Limiter",
        (715, _) => "Intercept",
        (716, _) => "InterceptBlock",
        (717, _) => "NDPGuard",
        (718, _) => "PortBlocked",
        (719, _) => "NicSuspended",
        (901, _) => "BadSourceAddress",
        (902, _) => "NotLocallyDestined",
        (903, _) => "ProtocolUnreachable",
        (904, _) => "PortUnreachable",
        (905, _) => "BadLength",
        (906, _) => "MalformedHeader",
        (907, _) => "NoRoute",
        (908, _) => "BeyondScope",
        (909, _) => "InspectionDrop",
        (910, _) => "TooManyDecapsulations",
        (911, _) => "AdministrativelyProhibited",
        (912, _) => "BadChecksum",
        (914, _) => "HopLimitExceeded",
        (915, _) => "AddressUnreachable",
        (916, _) => "RscPacket",
        (920, _) => "DontFragmentMtuExceeded",
        (922, _) => "AddressResolutionTimeout",
        (923, _) => "AddressResolutionFailure",
        (924, _) => "IpsecFailure",
        (944, _) => "InternalError",
        (949, _) => "QueueFull",
        (950, _) => "InterfaceDisabled",
        (1204, _) => "EndpointNotFound",
        (1208, _) => "AckInvalid",
        (1210, _) => "Rst",
        (1216, _) => "OutsideWindow",
        (1217, _) => "DuplicateSegment",
        (1230, _) => "SynAttack",
        _ => "",
    };
    if !named.is_empty() {
        return named.to_string();
    }
    let family = match code {
        951..=991 => "ICMP",
        992..=995 => "ARP",
        1200..=1232 => "INET/TCP",
        1301..=1327 => "SlbMux",
        1401..=1418 => "IPsec",
        1501..=1507 => "NetCx",
        3000..=3999 => "HTTP",
        _ => "Unknown",
    };
    format!("{family} drop {code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_event(id: u16, payload: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&562949953421313u64.to_le_bytes());
        for v in [1u16, 3, 4, 1, 84, 1, 0] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&(if id == EVENT_PACKET_DROP { 1217u32 } else { 0 }).to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&(payload.len() as u16 + 10).to_le_bytes());
        d.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn packet_fields() {
        let d = packet_event(EVENT_PACKET, b"frame");
        let PktmonEvent::Packet(p) = decode(EVENT_PACKET, &d).unwrap() else { panic!() };
        assert_eq!((p.at.group, p.at.number, p.at.appearance), (562949953421313, 1, 3));
        assert_eq!(
            (direction_name(p.at.direction), packet_type_name(p.at.packet_type), p.at.component),
            ("Tx", "Ethernet", 84)
        );
        assert_eq!((p.original_size, p.logged_size, p.bytes), (15, 5, &b"frame"[..]));
        assert!(decode(EVENT_PACKET, &d[..d.len() - 1]).is_none(), "logged size past the data");
    }

    #[test]
    fn drop_reasons_by_build() {
        let d = packet_event(EVENT_PACKET_DROP, b"");
        let PktmonEvent::Packet(p) = decode(EVENT_PACKET_DROP, &d).unwrap() else { panic!() };
        assert!(p.dropped);
        assert_eq!(drop_reason(p.at.drop_reason, 19042), "DuplicateSegment");
        assert_eq!(drop_reason(201, 17763), "Microport error");
        assert_eq!(drop_reason(201, 19042), "Pause");
        assert_eq!(drop_reason(960, 19042), "ICMP drop 960");
    }

    #[test]
    fn component_and_counters() {
        let mut d = vec![84, 0, 3, 0];
        d.extend("tcpip.sys".encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()));
        d.extend("TCP/IP".encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()));
        let PktmonEvent::Component(c) = decode(EVENT_COMPONENT, &d).unwrap() else { panic!() };
        assert_eq!((c.id, c.name.as_str(), component_type_name(c.kind)), (84, "tcpip.sys", "Filter"));
        let mut d = vec![7, 0];
        d.extend([1, 0]);
        d.extend(5u64.to_le_bytes());
        d.extend(500u64.to_le_bytes());
        d.extend([2, 0]);
        d.extend(6u64.to_le_bytes());
        d.extend(600u64.to_le_bytes());
        let PktmonEvent::Counters(c) = decode(EVENT_DROP_COUNTERS, &d).unwrap() else { panic!() };
        assert_eq!((c.component, c.packets_in, c.bytes_out), (7, 5, 600));
    }
}
