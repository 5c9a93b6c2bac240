//! Overlay encapsulations carried in UDP: VXLAN (RFC 7348), VXLAN-GPE and
//! Geneve (RFC 8926). Each view checks its lengths and says what comes next.

/// Default UDP ports. VXLAN's IANA port is 4789; Linux (and flannel) used
/// 8472 before that was assigned.
pub const VXLAN_PORTS: [u16; 2] = [4789, 8472];
pub const VXLAN_GPE_PORT: u16 = 4790;
pub const GENEVE_PORT: u16 = 6081;

pub const VXLAN_HEADER_LEN: usize = 8;
pub const GENEVE_BASE_LEN: usize = 8;
const NSH_BASE_LEN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    Vxlan,
    VxlanGpe,
    Geneve,
}

impl TunnelKind {
    /// The report's name. VXLAN-GPE is reported as "vxlan" with its own kind
    /// kept internally, since the schema knows only vxlan and geneve.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Vxlan | TunnelKind::VxlanGpe => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }
}

/// What the encapsulation says follows its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Ethernet,
    /// A network-layer packet of this EtherType (IPv4, IPv6, ARP...).
    EtherType(u16),
    /// A protocol number of VXLAN-GPE/NSH we do not decode (MPLS, NSH in NSH...).
    Other(u8),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_TRANSPARENT_ETHERNET: u16 = 0x6558;

/// A decoded tunnel header: its id and where the carried packet starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelHeader {
    pub kind: TunnelKind,
    pub vni: u32,
    pub header_len: usize,
    pub next: Next,
}

fn ethertype_next(t: u16) -> Next {
    match t {
        ETHERTYPE_TRANSPARENT_ETHERNET => Next::Ethernet,
        other => Next::EtherType(other),
    }
}

/// VXLAN: flags(1) reserved(3) VNI(3) reserved(1); always Ethernet inside.
/// Like Wireshark we do not insist on the I flag: senders that set reserved
/// bits still carry a frame.
pub fn vxlan(payload: &[u8]) -> Option<TunnelHeader> {
    let h = payload.get(..VXLAN_HEADER_LEN)?;
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    Some(TunnelHeader { kind: TunnelKind::Vxlan, vni, header_len: VXLAN_HEADER_LEN, next: Next::Ethernet })
}

/// VXLAN-GPE: flags(1) reserved(2) next-protocol(1) VNI(3) reserved(1).
/// Next protocol 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH (whose own header we
/// step over to reach its payload).
pub fn vxlan_gpe(payload: &[u8]) -> Option<TunnelHeader> {
    let h = payload.get(..VXLAN_HEADER_LEN)?;
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let mut header_len = VXLAN_HEADER_LEN;
    let mut next_proto = h[3];
    if next_proto == 4 {
        // NSH: ver/flags/ttl/length(6 bits, in 4-byte words) then MD type,
        // next protocol.
        let nsh = payload.get(header_len..header_len + NSH_BASE_LEN)?;
        let words = ((u16::from_be_bytes([nsh[0], nsh[1]]) & 0x3F) as usize).max(2);
        next_proto = nsh[3];
        header_len += words * 4;
        if payload.len() < header_len {
            return None;
        }
    }
    let next = match next_proto {
        1 => Next::EtherType(ETHERTYPE_IPV4),
        2 => Next::EtherType(ETHERTYPE_IPV6),
        3 => Next::Ethernet,
        other => Next::Other(other),
    };
    Some(TunnelHeader { kind: TunnelKind::VxlanGpe, vni, header_len, next })
}

/// Geneve: ver/opt-len(1) flags(1) protocol(2) VNI(3) reserved(1), then
/// opt-len 4-byte words of options.
pub fn geneve(payload: &[u8]) -> Option<TunnelHeader> {
    let h = payload.get(..GENEVE_BASE_LEN)?;
    if h[0] >> 6 != 0 {
        return None; // unknown version
    }
    let header_len = GENEVE_BASE_LEN + (h[0] & 0x3F) as usize * 4;
    if payload.len() < header_len {
        return None;
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let next = ethertype_next(u16::from_be_bytes([h[2], h[3]]));
    Some(TunnelHeader { kind: TunnelKind::Geneve, vni, header_len, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_vni() {
        let h = vxlan(&[0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0]).unwrap();
        assert_eq!(h.vni, 4096);
        assert!(vxlan(&[0x08, 0, 0]).is_none());
    }

    #[test]
    fn geneve_options_are_skipped_and_length_checked() {
        let mut p = vec![0x02, 0, 0x65, 0x58, 0, 0, 0x0b, 0];
        p.extend_from_slice(&[0; 8]);
        let h = geneve(&p).unwrap();
        assert_eq!((h.vni, h.header_len, h.next), (11, 16, Next::Ethernet));
        assert!(geneve(&p[..12]).is_none(), "options run past the packet");
    }

    #[test]
    fn gpe_with_nsh() {
        let mut p = vec![0x0c, 0, 0, 4, 0, 0, 9, 0];
        // NSH: length 6 words (24 bytes), next protocol 1 (IPv4)
        p.extend_from_slice(&[0x0f, 0xc6, 0x01, 0x01]);
        p.extend_from_slice(&[0; 20]);
        let h = vxlan_gpe(&p).unwrap();
        assert_eq!((h.vni, h.header_len, h.next), (9, 32, Next::EtherType(0x0800)));
    }
}
