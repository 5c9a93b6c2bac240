//! Values a report row keeps as they are and writes as text. A row per
//! flow held its addresses and protocol as strings, an allocation each
//! (nine for a VXLAN flow): these hold the address or protocol itself, in
//! a few bytes, and read the same in every output.

use std::fmt;
use std::net::IpAddr;

use serde::{Serialize, Serializer};

use crate::packet::{Endpoint, Proto};

/// Implements what lets a value stand where a string was: text output,
/// serialization as a string, comparison with strings.
macro_rules! shown_as_text {
    ($t:ty) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.to_string())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                reads_as(self, other)
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                reads_as(self, other)
            }
        }

        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                reads_as(self, other)
            }
        }
    };
}

/// Does `value` read as `text`? Compared piece by piece as it is
/// formatted, without building the string.
fn reads_as(value: &dyn fmt::Display, text: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(piece).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    fmt::write(&mut rest, format_args!("{value}")).is_ok() && rest.0.is_empty()
}

/// An IP address, written as text ("10.0.0.1", "fe80::1").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub IpAddr);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Endpoint(self.0, None), f)
    }
}

impl From<IpAddr> for Address {
    fn from(a: IpAddr) -> Address {
        Address(a)
    }
}

shown_as_text!(Address);

/// A protocol, written as the report names it ("tcp", "udp", "icmp",
/// "icmpv6", "arp", or the IP protocol number).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtoName(pub Proto);

impl fmt::Display for ProtoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

shown_as_text!(ProtoName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_the_strings_they_replace() {
        for p in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Icmpv6, Proto::Arp, Proto::Ip(47)] {
            assert_eq!(ProtoName(p).to_string(), p.name());
            assert_eq!(serde_json::to_string(&ProtoName(p)).unwrap(), serde_json::to_string(&p.name()).unwrap());
        }
        let v6: Address = Address("fe80::1".parse().unwrap());
        assert_eq!(Endpoint(v6.0, Some(80)).to_string(), "[fe80::1]:80");
        assert_eq!(Endpoint(v6.0, None).to_string(), "fe80::1");
        assert_eq!(Endpoint("10.0.0.1".parse().unwrap(), Some(80)).to_string(), "10.0.0.1:80");
        // IPv4 is written by hand: the same text as std's, padding too.
        let mut x: u64 = 7;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (ip, port) = (std::net::Ipv4Addr::from((x >> 32) as u32 >> (x % 25)), (x >> 7) as u16 >> (x % 16));
            let a = Address(IpAddr::V4(ip));
            assert_eq!(a.to_string(), ip.to_string());
            assert_eq!(format!("{a:>17}|{a:<16}|"), format!("{ip:>17}|{ip:<16}|"));
            assert_eq!(Endpoint(a.0, Some(port)).to_string(), format!("{ip}:{port}"));
        }
        for a in ["10.0.0.1", "fe80::1", "::ffff:10.1.2.3"] {
            let addr = Address(a.parse().unwrap());
            assert_eq!(addr, a);
            assert!(addr != a[..a.len() - 1] && addr != format!("{a}0"), "a prefix or a longer text is another");
            assert_eq!(serde_json::to_string(&addr).unwrap(), format!("\"{a}\""));
            assert_eq!(format!("{addr:?}"), format!("{a:?}"));
        }
    }
}
