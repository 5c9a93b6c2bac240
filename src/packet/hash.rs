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

/// [`Decoded::fingerprint`](super::Decoded::fingerprint) and
/// [`Decoded::invariant`](super::Decoded::invariant) of one IP packet, from
/// one pass over its first bytes: the two hashes were each a copy and a
/// blanking of the same 96 bytes. `ip_number` names the transport protocol
/// of `transport`, the IP payload.
pub fn fingerprint_and_invariant(ip: IpFacts, ip_number: u8, transport: &[u8]) -> (u64, u64) {
    let (fingerprint_head, ip_version) = match ip {
        IpFacts::V4 { id, total_len, protocol } => {
            (4 << 56 | u64::from(id) << 32 | u64::from(total_len) << 16 | u64::from(protocol), 4u8)
        }
        IpFacts::V6 { payload_len, next_header } => {
            (6 << 56 | u64::from(payload_len) << 16 | u64::from(next_header), 6)
        }
    };
    let invariant_head = 1 << 63 | u64::from(ip_version) << 40 | u64::from(ip_number) << 32 | transport.len() as u64;
    // The fingerprint leaves out the checksum, which offload may fill in
    // between two points; the invariant also what a NAT or the capture
    // point may change: ports and ICMP echo identifiers.
    let (fingerprint_blank, invariant_blank) = match ip_number {
        6 => (KEPT_BUT_TCP_CHECKSUM, KEPT_BUT_TCP_PORTS_AND_CHECKSUM),
        17 => (KEPT_BUT_UDP_CHECKSUM, KEPT_BUT_UDP_PORTS_AND_CHECKSUM),
        1 | 58 => (KEPT_BUT_ICMP_CHECKSUM, KEPT_BUT_ICMP_CHECKSUM_AND_ID),
        _ => (KEPT_ALL, KEPT_ALL),
    };
    let words = Words::of(transport);
    let fingerprint = words.hash(fingerprint_head, &fingerprint_blank);
    let invariant = words.hash(invariant_head, &invariant_blank) | 1;
    (fingerprint, invariant)
}

/// See [`Decoded::invariant`](super::Decoded::invariant) for ARP: the whole
/// ARP packet.
pub fn arp_invariant(arp: &[u8]) -> u64 {
    Words::of(arp).hash(0x0806 << 48 | arp.len() as u64, &KEPT_ALL) | 1
}

/// Which bytes of the first [`BLANKED_WORDS`] words a hash keeps: a mask
/// per word, zero over the bytes left out.
type Kept = [u64; BLANKED_WORDS];

/// Every byte that may be left out lies in the first 24.
const BLANKED_WORDS: usize = 3;

/// The mask keeping all of the first [`BLANKED_WORDS`] words but the bytes
/// `from..to` of each range.
const fn kept_but(ranges: &[(usize, usize)]) -> Kept {
    let mut kept = [u64::MAX; BLANKED_WORDS];
    let mut r = 0;
    while r < ranges.len() {
        let mut at = ranges[r].0;
        while at < ranges[r].1 {
            // Words are read little-endian: a word's byte k is its bits
            // 8k to 8k + 7.
            kept[at / 8] &= !(0xFF << (8 * (at % 8)));
            at += 1;
        }
        r += 1;
    }
    kept
}

const KEPT_ALL: Kept = kept_but(&[]);
const KEPT_BUT_TCP_CHECKSUM: Kept = kept_but(&[(16, 18)]);
const KEPT_BUT_TCP_PORTS_AND_CHECKSUM: Kept = kept_but(&[(0, 4), (16, 18)]);
const KEPT_BUT_UDP_CHECKSUM: Kept = kept_but(&[(6, 8)]);
const KEPT_BUT_UDP_PORTS_AND_CHECKSUM: Kept = kept_but(&[(0, 4), (6, 8)]);
const KEPT_BUT_ICMP_CHECKSUM: Kept = kept_but(&[(2, 4)]);
const KEPT_BUT_ICMP_CHECKSUM_AND_ID: Kept = kept_but(&[(2, 6)]);

/// The first [`HASHED_BYTES`] of a packet's bytes as little-endian words,
/// zero past the end, read once for every hash made of them.
struct Words {
    words: [u64; HASHED_BYTES / 8],
    /// Bytes taken: the count tells a short packet from one padded with
    /// zeros to the next word.
    len: usize,
}

impl Words {
    fn of(bytes: &[u8]) -> Words {
        let len = bytes.len().min(HASHED_BYTES);
        let mut buf = [0u8; HASHED_BYTES];
        buf[..len].copy_from_slice(&bytes[..len]);
        let mut words = [0u64; HASHED_BYTES / 8];
        for (w, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
            *w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        }
        Words { words, len }
    }

    /// Hashes `head` and the words, less the bytes `kept` leaves out.
    fn hash(&self, head: u64, kept: &Kept) -> u64 {
        let mut h = mix(head ^ SEED, self.len as u64 ^ SEED_2);
        for (i, &w) in self.words[..self.len.div_ceil(8)].iter().enumerate() {
            let w = if i < BLANKED_WORDS { w & kept[i] } else { w };
            h = mix(h ^ w, MULTIPLIER);
        }
        mix(h, SEED_2)
    }
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

    fn fingerprint(ip: IpFacts, ip_number: u8, transport: &[u8]) -> u64 {
        fingerprint_and_invariant(ip, ip_number, transport).0
    }

    /// The invariant of a transport header over IPv4 (`ip_version` 4) or
    /// IPv6: the facts of the IP header do not go into it.
    fn invariant(ip_version: u8, ip_number: u8, transport: &[u8]) -> u64 {
        let ip = match ip_version {
            4 => IpFacts::V4 { id: 1, total_len: 2, protocol: ip_number },
            _ => IpFacts::V6 { payload_len: 3, next_header: ip_number },
        };
        fingerprint_and_invariant(ip, ip_number, transport).1
    }

    /// The hashes as first written, a byte range blanked at a time: the
    /// masks of whole words must leave out exactly the same bytes.
    fn blanked_reference(head: u64, bytes: &[u8], blank: &[(usize, usize)]) -> u64 {
        let n = bytes.len().min(HASHED_BYTES);
        let mut buf = [0u8; HASHED_BYTES];
        buf[..n].copy_from_slice(&bytes[..n]);
        for &(from, to) in blank {
            if from < n {
                buf[from..to.min(n)].fill(0);
            }
        }
        let mut h = mix(head ^ SEED, n as u64 ^ SEED_2);
        for word in buf[..n.div_ceil(8) * 8].chunks_exact(8) {
            h = mix(h ^ u64::from_le_bytes(word.try_into().unwrap()), MULTIPLIER);
        }
        mix(h, SEED_2)
    }

    #[test]
    fn masked_words_hash_as_blanked_bytes() {
        let mut seed = 5u64;
        for round in 0..4000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 40) as usize % 130;
            let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8 ^ i as u8).collect();
            let ip_number = [6u8, 17, 1, 58, 47][round % 5];
            type Ranges = &'static [(usize, usize)];
            let (fingerprint_blank, invariant_blank): (Ranges, Ranges) = match ip_number {
                6 => (&[(16, 18)], &[(0, 4), (16, 18)]),
                17 => (&[(6, 8)], &[(0, 4), (6, 8)]),
                1 | 58 => (&[(2, 4)], &[(2, 6)]),
                _ => (&[], &[]),
            };
            let facts = IpFacts::V4 { id: seed as u16, total_len: len as u16 + 20, protocol: ip_number };
            let head = 4 << 56 | u64::from(seed as u16) << 32 | (len as u64 + 20) << 16 | u64::from(ip_number);
            let inv_head = 1 << 63 | 4 << 40 | u64::from(ip_number) << 32 | len as u64;
            let (fp, inv) = fingerprint_and_invariant(facts, ip_number, &bytes);
            assert_eq!(fp, blanked_reference(head, &bytes, fingerprint_blank), "round {round}");
            assert_eq!(inv, blanked_reference(inv_head, &bytes, invariant_blank) | 1, "round {round}");
        }
        assert_eq!(arp_invariant(&[9; 28]), blanked_reference(0x0806 << 48 | 28, &[9; 28], &[]) | 1);
    }

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
