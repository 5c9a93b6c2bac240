//! Link layers: find where the network-layer packet starts in a frame of
//! the capture's link type.

use super::Header;
use crate::event::LinkType;

/// Where the network layer begins, and how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3Start<'a> {
    /// A whole Ethernet frame (etherparse handles VLAN tags itself).
    Ethernet(&'a [u8]),
    /// A payload of the given EtherType.
    EtherType(u16, &'a [u8]),
    /// An IPv4 or IPv6 packet, told apart by its version nibble.
    Ip(&'a [u8]),
}

/// Why a frame could not be unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Truncated(Header),
    /// A frame type that carries no packet for us (802.11 management, encrypted...).
    NoPayload(&'static str),
    UnsupportedLink(u32),
}

const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
const NULL_LEN: usize = 4;
const WLAN_BASE_LEN: usize = 24;
const LLC_SNAP: [u8; 3] = [0xAA, 0xAA, 0x03];

pub fn unwrap(link: LinkType, data: &[u8]) -> Result<L3Start<'_>, LinkError> {
    match link {
        LinkType::ETHERNET => Ok(L3Start::Ethernet(data)),
        LinkType::RAW | LinkType::RAW_BSD | LinkType::RAW_OPENBSD | LinkType::IPV4 | LinkType::IPV6 => {
            Ok(L3Start::Ip(data))
        }
        LinkType::LINUX_SLL => {
            let h = data.get(..SLL_LEN).ok_or(LinkError::Truncated(Header::LinuxCooked))?;
            Ok(L3Start::EtherType(u16::from_be_bytes([h[14], h[15]]), &data[SLL_LEN..]))
        }
        LinkType::LINUX_SLL2 => {
            let h = data.get(..SLL2_LEN).ok_or(LinkError::Truncated(Header::LinuxCookedV2))?;
            Ok(L3Start::EtherType(u16::from_be_bytes([h[0], h[1]]), &data[SLL2_LEN..]))
        }
        LinkType::NULL | LinkType::LOOP => {
            let h = data.get(..NULL_LEN).ok_or(LinkError::Truncated(Header::Loopback))?;
            // DLT_NULL is in the writer's byte order, DLT_LOOP in network
            // order; the family values are small, so whichever reads small wins.
            let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let family = if le < 0x100 { le } else { u32::from_be_bytes([h[0], h[1], h[2], h[3]]) };
            match family {
                2 | 24 | 28 | 30 => Ok(L3Start::Ip(&data[NULL_LEN..])),
                _ => Err(LinkError::NoPayload("loopback frame of an unknown address family")),
            }
        }
        LinkType::IEEE802_11 => ieee80211(data),
        LinkType::IEEE802_11_RADIOTAP => {
            let len = data.get(2..4).ok_or(LinkError::Truncated(Header::Radiotap))?;
            let len = u16::from_le_bytes([len[0], len[1]]) as usize;
            let rest = data.get(len..).ok_or(LinkError::Truncated(Header::Radiotap))?;
            ieee80211(rest)
        }
        other => Err(LinkError::UnsupportedLink(other.0)),
    }
}

/// 802.11 data frames carry an LLC/SNAP header and then an EtherType.
fn ieee80211(data: &[u8]) -> Result<L3Start<'_>, LinkError> {
    let fc = data.get(..2).ok_or(LinkError::Truncated(Header::Ieee80211FrameControl))?;
    let frame_type = (fc[0] >> 2) & 0b11;
    let subtype = fc[0] >> 4;
    let flags = fc[1];
    if frame_type != 2 {
        return Err(LinkError::NoPayload("802.11 management or control frame"));
    }
    if subtype & 0b0100 != 0 {
        return Err(LinkError::NoPayload("802.11 null data frame"));
    }
    if flags & 0x40 != 0 {
        return Err(LinkError::NoPayload("802.11 protected (encrypted) frame"));
    }
    let mut len = WLAN_BASE_LEN;
    if flags & 0b11 == 0b11 {
        len += 6; // fourth address when both ToDS and FromDS are set
    }
    let qos = subtype & 0b1000 != 0;
    if qos {
        len += 2;
        if flags & 0x80 != 0 {
            len += 4; // HT control
        }
    }
    let llc = data.get(len..len + 8).ok_or(LinkError::Truncated(Header::Ieee80211Llc))?;
    if llc[..3] != LLC_SNAP {
        return Err(LinkError::NoPayload("802.11 frame without LLC/SNAP"));
    }
    Ok(L3Start::EtherType(u16::from_be_bytes([llc[6], llc[7]]), &data[len + 8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wifi_qos_data_to_ipv4() {
        let mut f = vec![0x88, 0x01]; // QoS data, ToDS
        f.extend_from_slice(&[0; 22]);
        f.extend_from_slice(&[0, 0]); // QoS control
        f.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        match unwrap(LinkType::IEEE802_11, &f).unwrap() {
            L3Start::EtherType(0x0800, rest) => assert_eq!(rest, &[0x45, 0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_family_in_either_order() {
        let le = [2, 0, 0, 0, 0x45];
        let be = [0, 0, 0, 30, 0x60];
        assert_eq!(unwrap(LinkType::NULL, &le).unwrap(), L3Start::Ip(&[0x45]));
        assert_eq!(unwrap(LinkType::NULL, &be).unwrap(), L3Start::Ip(&[0x60]));
        assert!(unwrap(LinkType::NULL, &[2, 0]).is_err());
    }
}
