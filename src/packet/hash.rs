//! The two hashes that join sightings of one packet: [`Decoded::fingerprint`]
//! (the packet as it is, less what offload fills in) and
//! [`Decoded::invariant`] (what NAT and encapsulation leave alone).
//!
//! Both hash at most [`HASHED_BYTES`] of the transport header and payload,
//! with the bytes that may differ between two points blanked, eight bytes at
//! a time: byte-at-a-time hashing of two times 96 bytes was a tenth of the
//! decoding of a switching host's capture. The values only ever meet each
//! other in one run, so they need not be stable across versions.
//!
//! [`Decoded::fingerprint`]: super::Decoded::fingerprint
//! [`Decoded::invariant`]: super::Decoded::invariant

/// Bytes of the transport header and payload hashed; enough to tell apart
/// packets of one flow without hashing whole payloads.
pub const HASHED_BYTES: usize = 96;

/// The IP header fields that go into the fingerprint.
#[derive(Debug, Clone, Copy)]
pub enum IpFacts {
    V4 { id: u16, total_len: u16, protocol: u8 },
    V6 { payload_len: u16, next_header: u8 },
}

/// See [`Decoded::fingerprint`](super::Decoded::fingerprint). `ip_number`
/// names the transport protocol of `transport`, the IP payload.
pub fn fingerprint(ip: IpFacts, ip_number: u8, transport: &[u8]) -> u64 {
    let head = match ip {
        IpFacts::V4 { id, total_len, protocol } => {
            4 << 56 | u64::from(id) << 32 | u64::from(total_len) << 16 | u64::from(protocol)
        }
        IpFacts::V6 { payload_len, next_header } => 6 << 56 | u64::from(payload_len) << 16 | u64::from(next_header),
    };
    // Leave out the checksum, which offload may fill in between two points.
    let checksum: &[(usize, usize)] = match ip_number {
        6 => &[(16, 18)],
        17 => &[(6, 8)],
        1 | 58 => &[(2, 4)],
        _ => &[],
    };
    hash_blanked(head, transport, checksum)
}

/// See [`Decoded::invariant`](super::Decoded::invariant); never 0.
/// `ip_version` is 4 or 6.
pub fn invariant(ip_version: u8, ip_number: u8, transport: &[u8]) -> u64 {
    // Byte ranges a NAT or the capture point may change: ports, checksums,
    // ICMP echo identifiers.
    let changing: &[(usize, usize)] = match ip_number {
        6 => &[(0, 4), (16, 18)],
        17 => &[(0, 4), (6, 8)],
        1 | 58 => &[(2, 6)],
        _ => &[],
    };
    let head = 1 << 63 | u64::from(ip_version) << 40 | u64::from(ip_number) << 32 | transport.len() as u64;
    hash_blanked(head, transport, changing) | 1
}

/// See [`Decoded::invariant`](super::Decoded::invariant) for ARP: the whole
/// ARP packet.
pub fn arp_invariant(arp: &[u8]) -> u64 {
    hash_blanked(0x0806 << 48 | arp.len() as u64, arp, &[]) | 1
}

/// Hashes `head` and the first [`HASHED_BYTES`] of `bytes` with the byte
/// ranges `blank` zeroed.
fn hash_blanked(head: u64, bytes: &[u8], blank: &[(usize, usize)]) -> u64 {
    let n = bytes.len().min(HASHED_BYTES);
    let mut buf = [0u8; HASHED_BYTES];
    buf[..n].copy_from_slice(&bytes[..n]);
    for &(from, to) in blank {
        if from < n {
            buf[from..to.min(n)].fill(0);
        }
    }
    // The count of bytes hashed tells a short packet from one padded with
    // zeros to the next word.
    let mut h = mix(head ^ SEED, n as u64 ^ SEED_2);
    for word in buf[..n.div_ceil(8) * 8].chunks_exact(8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        h = mix(h ^ w, MULTIPLIER);
    }
    mix(h, SEED_2)
}

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const SEED_2: u64 = 0x1319_8a2e_0370_7344;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The folded 128-bit product: every input bit reaches most output bits in
/// one multiplication.
fn mix(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ (p >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src_port: u16, checksum: u16, payload: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&src_port.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[12] = 5 << 4;
        t[16..18].copy_from_slice(&checksum.to_be_bytes());
        t.extend_from_slice(payload);
        t
    }

    #[test]
    fn blanked_bytes_do_not_count_and_every_other_byte_does() {
        let facts = IpFacts::V4 { id: 7, total_len: 60, protocol: 6 };
        let a = tcp(1000, 0x1234, b"hello world, this is a payload");
        let b = tcp(1000, 0xbeef, b"hello world, this is a payload");
        assert_eq!(fingerprint(facts, 6, &a), fingerprint(facts, 6, &b));
        let nat = tcp(2000, 0xbeef, b"hello world, this is a payload");
        assert_ne!(fingerprint(facts, 6, &a), fingerprint(facts, 6, &nat));
        assert_eq!(invariant(4, 6, &a), invariant(4, 6, &nat));
        assert_ne!(invariant(4, 6, &a), invariant(6, 6, &a));
        for at in 0..a.len() {
            let mut c = a.clone();
            c[at] ^= 0x40;
            let blanked = (16..18).contains(&at);
            assert_eq!(fingerprint(facts, 6, &a) == fingerprint(facts, 6, &c), blanked, "byte {at}");
            let changing = at < 4 || blanked;
            assert_eq!(invariant(4, 6, &a) == invariant(4, 6, &c), changing, "byte {at}");
        }
    }

    #[test]
    fn length_and_header_facts_count_and_bytes_past_the_limit_do_not() {
        let facts = IpFacts::V4 { id: 7, total_len: 60, protocol: 17 };
        let short = [1u8, 2, 3];
        let padded = [1u8, 2, 3, 0];
        assert_ne!(fingerprint(facts, 17, &short), fingerprint(facts, 17, &padded));
        assert_ne!(invariant(4, 17, &short), invariant(4, 17, &padded));
        assert_ne!(
            fingerprint(facts, 17, &short),
            fingerprint(IpFacts::V4 { id: 8, total_len: 60, protocol: 17 }, 17, &short)
        );
        let long: Vec<u8> = (0..200).map(|i| i as u8).collect();
        let mut tail = long.clone();
        tail[HASHED_BYTES] ^= 1;
        assert_eq!(fingerprint(facts, 17, &long), fingerprint(facts, 17, &tail));
        tail[HASHED_BYTES - 1] ^= 1;
        assert_ne!(fingerprint(facts, 17, &long), fingerprint(facts, 17, &tail));
        assert_ne!(invariant(4, 17, &[]), 0);
        assert_ne!(arp_invariant(&[]), 0);
    }
}
