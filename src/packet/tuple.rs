//! The addresses and ports that identify a conversation at one layer.

use std::fmt;
use std::net::IpAddr;

/// Protocol of the innermost header we decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Arp,
    /// Any other IP protocol, by number.
    Ip(u8),
}

impl Proto {
    pub fn from_ip_number(n: u8) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            1 => Proto::Icmp,
            58 => Proto::Icmpv6,
            other => Proto::Ip(other),
        }
    }

    /// The report's name: "tcp", "udp", "icmp", "icmpv6", "arp", or the number.
    pub fn name(self) -> String {
        self.to_string()
    }

    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp | Proto::Ip(132) | Proto::Ip(33) | Proto::Ip(136))
    }
}

/// Source and destination of one packet at one layer. Ports are 0 and
/// meaningless when the protocol has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub proto: Proto,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Tuple {
    pub fn reversed(&self) -> Tuple {
        Tuple { proto: self.proto, src: self.dst, dst: self.src, src_port: self.dst_port, dst_port: self.src_port }
    }

    /// The orientation with the smaller endpoint first, so both directions of
    /// a conversation share one key. Returns the canonical tuple and whether
    /// `self` was reversed to get it.
    pub fn canonical(&self) -> (Tuple, bool) {
        if (self.src, self.src_port) <= (self.dst, self.dst_port) {
            (*self, false)
        } else {
            (self.reversed(), true)
        }
    }

    pub fn src_port(&self) -> Option<u16> {
        self.proto.has_ports().then_some(self.src_port)
    }

    pub fn dst_port(&self) -> Option<u16> {
        self.proto.has_ports().then_some(self.dst_port)
    }
}

fn endpoint(f: &mut fmt::Formatter<'_>, addr: IpAddr, port: Option<u16>) -> fmt::Result {
    match (addr, port) {
        (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
        (a, Some(p)) => write!(f, "{a}:{p}"),
        (a, None) => write!(f, "{a}"),
    }
}

/// Written as [`Proto::name`] says.
impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proto::Tcp => f.write_str("tcp"),
            Proto::Udp => f.write_str("udp"),
            Proto::Icmp => f.write_str("icmp"),
            Proto::Icmpv6 => f.write_str("icmpv6"),
            Proto::Arp => f.write_str("arp"),
            Proto::Ip(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        endpoint(f, self.src, self.src_port())?;
        f.write_str(" -> ")?;
        endpoint(f, self.dst, self.dst_port())?;
        write!(f, " {}", self.proto.name().to_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_shared_by_both_directions() {
        let t = Tuple {
            proto: Proto::Tcp,
            src: "10.0.0.9".parse().unwrap(),
            dst: "10.0.0.1".parse().unwrap(),
            src_port: 5,
            dst_port: 80,
        };
        let (a, ra) = t.canonical();
        let (b, rb) = t.reversed().canonical();
        assert_eq!(a, b);
        assert_ne!(ra, rb);
        assert_eq!(t.to_string(), "10.0.0.9:5 -> 10.0.0.1:80 TCP");
    }
}
