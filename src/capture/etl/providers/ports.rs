//! The Hyper-V switch ports of event 1003 payloads, remembered.
//!
//! Every packet a switch port captures carries the port's three names
//! (port, NIC, NIC type) as NUL-terminated UTF-16 before the frame, so
//! finding the frame means reading all three, and naming the port means
//! looking each up. A switch has few ports and names each the same way
//! every time: a payload whose port id and names region are a remembered
//! port's, byte for byte, has that port's layout up to the frame and its
//! names, found with one comparison.

use super::ndiscap::{vmswitch_layout, vmswitch_layout_after_names, VmswitchLayout, VMSWITCH_NAMES_AT};
use super::text::{NameCache, Text};

/// Ports remembered at most (a port per VM NIC and host NIC); past it the
/// oldest remembered is forgotten, which costs only reading its names again.
const MAX_PORTS: usize = 32;
/// The longest names region remembered: three names of tens of units each
/// are far below it, and it bounds what a crafted file can make us keep.
const MAX_REGION: usize = 1024;

/// Switch ports seen recently, and the names of any other.
#[derive(Debug)]
pub struct SwitchPorts {
    recent: Vec<Port>,
    /// Which remembered port is forgotten next, once `recent` is full.
    next: usize,
    names: NameCache,
}

#[derive(Debug)]
struct Port {
    id: u32,
    /// The payload's bytes from the first name to the third's terminator.
    region: Box<[u8]>,
    /// Where each name's units lie in the payload, and its text.
    at: [(u32, u32); 3],
    texts: [Text; 3],
}

/// An event 1003 payload's layout and its port's names.
#[derive(Debug, Clone)]
pub struct PortLayout {
    pub layout: VmswitchLayout,
    /// The port's, the NIC's and the NIC type's names.
    pub names: [Text; 3],
}

impl Default for SwitchPorts {
    fn default() -> Self {
        Self::new()
    }
}

impl SwitchPorts {
    pub fn new() -> SwitchPorts {
        SwitchPorts { recent: Vec::new(), next: 0, names: NameCache::terminated() }
    }

    /// The layout of an event 1003 payload, as [`vmswitch_layout`] finds it,
    /// and its port's names.
    pub fn layout(&mut self, data: &[u8]) -> Option<PortLayout> {
        if let Some(p) = self.find(data) {
            let layout = vmswitch_layout_after_names(data, p.at, VMSWITCH_NAMES_AT + p.region.len())?;
            return Some(PortLayout { layout, names: p.texts.clone() });
        }
        let layout = vmswitch_layout(data)?;
        // A found layout's names lie in the payload.
        let part = |(start, len): (u32, u32)| &data[start as usize..start as usize + len as usize];
        let [a, b, c] = layout.names();
        let names = [self.names.text(part(a)), self.names.text(part(b)), self.names.text(part(c))];
        self.remember(data, &layout, &names);
        Some(PortLayout { layout, names })
    }

    /// The remembered port whose id and names region `data` repeats.
    fn find(&self, data: &[u8]) -> Option<&Port> {
        let id = u32::from_le_bytes(data.get(VMSWITCH_NAMES_AT - 4..VMSWITCH_NAMES_AT)?.try_into().ok()?);
        let names = data.get(VMSWITCH_NAMES_AT..)?;
        self.recent.iter().find(|p| p.id == id && names.starts_with(&p.region))
    }

    fn remember(&mut self, data: &[u8], l: &VmswitchLayout, texts: &[Text; 3]) {
        let at = l.names();
        // A found layout has all three names terminated: the region ends
        // after the third's NUL unit.
        let end = at[2].0 as usize + at[2].1 as usize + 2;
        let Some(region) = data.get(VMSWITCH_NAMES_AT..end).filter(|r| r.len() <= MAX_REGION) else { return };
        let port = Port { id: l.source_port_id(), region: region.into(), at, texts: texts.clone() };
        // One entry per port id: a port renamed replaces what was known.
        if let Some(same) = self.recent.iter().position(|p| p.id == port.id) {
            self.recent[same] = port;
        } else if self.recent.len() < MAX_PORTS {
            self.recent.push(port);
        } else {
            self.recent[self.next] = port;
            self.next = (self.next + 1) % MAX_PORTS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ndiscap::{emit_vmswitch_fragment, vmswitch_fragment, vmswitch_fragment_cached, SwitchPort};
    use super::*;
    use crate::test_rng::XorShift64;

    /// A few ports, two of them with one id and other names (a port
    /// renamed, or a crafted file), and names of several lengths.
    fn ports() -> Vec<SwitchPort> {
        let port = |id: u32, name: &str, nic: &str| SwitchPort {
            source_port_id: id,
            source_port_name: name.into(),
            source_nic_name: nic.into(),
            source_nic_type: "Synthetic".into(),
            ..Default::default()
        };
        vec![
            port(1, "5C90961B-7F93-6D22-1098-7A47C025A152", "Container NIC 1a2b3c4d"),
            port(2, "6C90961B-7F93-6D22-1098-7A47C025A152", "Container NIC 1a2b3c4e"),
            port(2, "6C90961B-7F93-6D22-1098-7A47C025A152", "Container NIC 1a2b3c4e renamed"),
            port(3, "", "host vNIC"),
            port(3, "x", "host vNIC"),
            port(4, "Dynamic Ethernet Switch Port", ""),
        ]
    }

    /// Remembered ports give every payload, whole, cut short or with bytes
    /// changed, the layout and fragment that decoding it afresh gives.
    #[test]
    fn remembered_ports_decode_as_afresh() {
        let mut rng = XorShift64::new(0x9E37_79B9_7F4A_7C15);
        let ports = ports();
        let mut remembered = SwitchPorts::new();
        let mut hits = 0;
        for round in 0..20_000 {
            let port = &ports[rng.next() as usize % ports.len()];
            let frame: Vec<u8> = (0..rng.next() % 80).map(|_| rng.next() as u8).collect();
            let mut d = emit_vmswitch_fragment(12, 12, port, &frame);
            match rng.next() % 4 {
                0 => d.truncate(rng.next() as usize % (d.len() + 1)),
                1 => {
                    // Mostly inside the names, where a wrong memory would show.
                    let at = rng.next() as usize % d.len().min(160);
                    d[at] ^= 1 << (rng.next() % 8);
                }
                _ => {}
            }
            let afresh = vmswitch_layout(&d);
            hits += usize::from(remembered.find(&d).is_some());
            assert_eq!(remembered.layout(&d).map(|p| p.layout), afresh, "round {round}");
            assert_eq!(vmswitch_fragment_cached(&d, 8, &mut remembered), vmswitch_fragment(&d, 8), "round {round}");
        }
        assert!(hits > 5_000, "ports remembered: {hits} hits");
        assert!(remembered.recent.len() <= MAX_PORTS);
    }

    #[test]
    fn ports_past_the_bound_are_forgotten() {
        let mut remembered = SwitchPorts::new();
        for id in 0..3 * MAX_PORTS as u32 {
            let port = SwitchPort {
                source_port_id: id,
                source_port_name: format!("port {id}").as_str().into(),
                ..Default::default()
            };
            let d = emit_vmswitch_fragment(1, 1, &port, b"frame");
            assert_eq!(remembered.layout(&d).map(|p| p.layout), vmswitch_layout(&d));
        }
        assert_eq!(remembered.recent.len(), MAX_PORTS);
        // A names region too long to remember is still laid out.
        let long = "n".repeat(MAX_REGION);
        let port = SwitchPort { source_port_id: 7, source_port_name: long.as_str().into(), ..Default::default() };
        let d = emit_vmswitch_fragment(1, 1, &port, b"frame");
        assert_eq!(vmswitch_fragment_cached(&d, 8, &mut remembered), vmswitch_fragment(&d, 8));
        assert!(remembered.find(&d).is_none());
    }
}
