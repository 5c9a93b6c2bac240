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

    /// The name of a protocol that has one ("tcp"), as [`name`](Self::name)
    /// writes it; `None` for the others, written by number.
    pub fn known_name(self) -> Option<&'static str> {
        match self {
            Proto::Tcp => Some("tcp"),
            Proto::Udp => Some("udp"),
            Proto::Icmp => Some("icmp"),
            Proto::Icmpv6 => Some("icmpv6"),
            Proto::Arp => Some("arp"),
            Proto::Ip(_) => None,
        }
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

/// An address and its port as text: "10.0.0.1:80", "[fe80::1]:80", or
/// the bare address when there is no port.
pub struct Endpoint(pub IpAddr, pub Option<u16>);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (IpAddr::V4(a), port) => f.pad(Text::endpoint(a, port).as_str()),
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (IpAddr::V6(a), None) => fmt::Display::fmt(&a, f),
        }
    }
}

impl Endpoint {
    /// Pushes the text [`Display`](fmt::Display) writes, without the
    /// formatting machinery for an IPv4 endpoint.
    pub fn push_to(&self, out: &mut String) {
        match (self.0, self.1) {
            (IpAddr::V4(a), port) => {
                out.reserve(MAX_V4_ENDPOINT);
                write_v4_endpoint(out, a, port);
            }
            _ => {
                use fmt::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

/// "255.255.255.255:65535"
const MAX_V4_ENDPOINT: usize = 21;

/// Where an IPv4 endpoint's text goes, a byte at a time: std's Display goes
/// through the formatting machinery once an octet, and a report of a long
/// capture writes hundreds of thousands of addresses.
trait AsciiOut {
    fn put(&mut self, b: u8);
}

impl AsciiOut for String {
    fn put(&mut self, b: u8) {
        self.push(char::from(b));
    }
}

/// "10.0.0.1:80", or "10.0.0.1" with no port.
fn write_v4_endpoint(out: &mut impl AsciiOut, a: std::net::Ipv4Addr, port: Option<u16>) {
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            out.put(b'.');
        }
        write_number(out, u16::from(octet));
    }
    if let Some(p) = port {
        out.put(b':');
        write_number(out, p);
    }
}

/// `n` in decimal, most significant digit first.
fn write_number(out: &mut impl AsciiOut, n: u16) {
    let mut started = false;
    for unit in [10_000, 1_000, 100, 10] {
        let digit = (n / unit % 10) as u8;
        started |= digit != 0;
        if started {
            out.put(b'0' + digit);
        }
    }
    out.put(b'0' + (n % 10) as u8);
}

/// An IPv4 endpoint's text for [`Display`](fmt::Display), which pads it.
struct Text {
    bytes: [u8; MAX_V4_ENDPOINT],
    len: usize,
}

impl AsciiOut for Text {
    fn put(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }
}

impl Text {
    fn endpoint(a: std::net::Ipv4Addr, port: Option<u16>) -> Text {
        let mut text = Text { bytes: [0; MAX_V4_ENDPOINT], len: 0 };
        write_v4_endpoint(&mut text, a, port);
        text
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, dots and colons are ever put.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// A tuple as tables, timelines and messages write it:
/// "10.0.0.1:5 -> 10.0.0.2:80 TCP".
pub struct TupleText {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub proto: Proto,
}

impl TupleText {
    /// Pushes the text [`Display`](fmt::Display) writes: a report writes
    /// a tuple for every hop it lists and two for every NAT mapping.
    pub fn push_to(&self, out: &mut String) {
        self.src.push_to(out);
        out.push_str(" -> ");
        self.dst.push_to(out);
        out.push(' ');
        match upper_name(self.proto) {
            Some(name) => out.push_str(name),
            None => {
                use fmt::Write as _;
                let _ = write!(out, "{}", self.proto);
            }
        }
    }
}

/// The protocol's name in capitals, for the protocols with a name.
fn upper_name(proto: Proto) -> Option<&'static str> {
    match proto {
        Proto::Tcp => Some("TCP"),
        Proto::Udp => Some("UDP"),
        Proto::Icmp => Some("ICMP"),
        Proto::Icmpv6 => Some("ICMPV6"),
        Proto::Arp => Some("ARP"),
        Proto::Ip(_) => None,
    }
}

impl fmt::Display for TupleText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without making two strings a tuple: a report writes hundreds of
        // thousands.
        match upper_name(self.proto) {
            Some(proto) => write!(f, "{} -> {} {proto}", self.src, self.dst),
            None => write!(f, "{} -> {} {}", self.src, self.dst, self.proto),
        }
    }
}

/// Written as [`Proto::name`] says.
impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proto::Ip(n) => write!(f, "{n}"),
            named => f.write_str(named.known_name().unwrap_or_default()),
        }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (src, dst) = (Endpoint(self.src, self.src_port()), Endpoint(self.dst, self.dst_port()));
        TupleText { src, dst, proto: self.proto }.fmt(f)
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
