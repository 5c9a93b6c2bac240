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
            // Made on the stack and pushed at once: a byte at a time, each
            // push checked the string's room.
            (IpAddr::V4(a), port) => out.push_str(Text::endpoint(a, port).as_str()),
            _ => {
                use fmt::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

/// "255.255.255.255:65535"
const MAX_V4_ENDPOINT: usize = 21;

/// An IPv4 endpoint's text, made on the stack: std's Display goes through
/// the formatting machinery once an octet, and a report of a long capture
/// writes hundreds of thousands of addresses.
struct Text {
    /// Room for the longest text and the spare bytes [`Text::put_octet`]
    /// writes past its digits.
    bytes: [u8; MAX_V4_ENDPOINT + 3],
    len: usize,
}

/// Each octet's decimal digits, first digit first, then their count.
const OCTETS: [[u8; 4]; 256] = {
    let mut table = [[0; 4]; 256];
    let mut n = 0;
    while n < 256 {
        let (hundreds, tens, ones) = (b'0' + (n / 100) as u8, b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8);
        table[n] = match n {
            100.. => [hundreds, tens, ones, 3],
            10.. => [tens, ones, 0, 2],
            _ => [ones, 0, 0, 1],
        };
        n += 1;
    }
    table
};

impl Text {
    /// "10.0.0.1:80", or "10.0.0.1" with no port.
    fn endpoint(a: std::net::Ipv4Addr, port: Option<u16>) -> Text {
        let mut text = Text { bytes: [0; MAX_V4_ENDPOINT + 3], len: 0 };
        let [first, rest @ ..] = a.octets();
        text.put_octet(first);
        for octet in rest {
            text.put(b'.');
            text.put_octet(octet);
        }
        if let Some(p) = port {
            text.put(b':');
            text.put_port(p);
        }
        text
    }

    fn put(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    /// Four bytes copied whatever the octet's digits, as one store; the
    /// ones past its digits are written over next or left out.
    fn put_octet(&mut self, octet: u8) {
        let digits = OCTETS[usize::from(octet)];
        self.bytes[self.len..self.len + 4].copy_from_slice(&digits);
        self.len += usize::from(digits[3]);
    }

    /// `n` in decimal, most significant digit first.
    fn put_port(&mut self, n: u16) {
        let mut started = false;
        for unit in [10_000, 1_000, 100, 10] {
            let digit = (n / unit % 10) as u8;
            started |= digit != 0;
            if started {
                self.put(b'0' + digit);
            }
        }
        self.put(b'0' + (n % 10) as u8);
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

    /// Every octet in every place, and ports of each length, as std writes
    /// them: our text is made without it.
    #[test]
    fn an_ipv4_endpoint_is_written_as_std_writes_it() {
        let ports = [0, 7, 10, 99, 100, 999, 1000, 9999, 10000, 65535];
        for n in 0..=255u8 {
            for place in 0..4 {
                let mut octets = [255, 0, 10, 1];
                octets[place] = n;
                let a = std::net::Ipv4Addr::from(octets);
                let port = ports[(usize::from(n) + place) % ports.len()];
                let mut pushed = String::from("x");
                Endpoint(IpAddr::V4(a), Some(port)).push_to(&mut pushed);
                assert_eq!(pushed, format!("x{a}:{port}"));
                assert_eq!(Endpoint(IpAddr::V4(a), None).to_string(), a.to_string());
                assert_eq!(
                    format!("{:>22}", Endpoint(IpAddr::V4(a), Some(port))),
                    format!("{:>22}", format!("{a}:{port}"))
                );
            }
        }
    }
}
