//! The correlation stage fed arbitrary events: the bytes are a script of
//! NBL events and captures with chosen times, CPUs, NICs and pointers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::providers::vmswitch::{Named, NblEvent, Text};
use overlay_trace::event::LinkType;
use overlay_trace::packet::{decode, DecodeConfig};
use overlay_trace::time::Timestamp;
use overlay_trace::trace::summary::Summary;
use overlay_trace::trace::{CaptureInput, Correlator, Sighting};

fn named(i: u8) -> Named {
    Named { id: format!("id{}", i % 4).into(), name: format!("nic{}", i % 4).into() }
}

fuzz_target!(|data: &[u8]| {
    let cfg = DecodeConfig::default();
    let mut c = Correlator::new(1_000_000);
    let mut summary = Summary::default();
    let mut flows = overlay_trace::flow::FlowTable::new();
    let mut ts = 0i64;
    for step in data.chunks(8) {
        if step.len() < 8 {
            break;
        }
        ts += (step[1] as i64) * 1000;
        let t = Timestamp(ts);
        let cpu = (step[2] % 3) as u32;
        let nbl = Some(0xFFFF_0000 + (step[3] % 5) as u64);
        let sw = Named { id: "sw".into(), name: "switch".into() };
        match step[0] % 6 {
            0 => c.push_nbl(t, cpu, &NblEvent::Receive { nic: named(step[4]), switch: sw, nbl }),
            1 => c.push_nbl(t, cpu, &NblEvent::Route { from: named(step[4]), to: named(step[5]), switch: sw, nbl }),
            2 => c.push_nbl(t, cpu, &NblEvent::Deliver { nic: named(step[4]), switch: sw, nbl }),
            3 => c.push_nbl(
                t,
                cpu,
                &NblEvent::ExtensionDrop { nic: named(step[4]), switch: sw, extension: named(9), reason: "r".into() },
            ),
            _ => {
                // A small UDP packet whose payload comes from the script.
                let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, step[4] % 3], [10, 0, 1, step[5] % 3], 64)
                    .udp(1000 + (step[6] % 3) as u16, 80);
                let mut frame = Vec::new();
                let _ = b.write(&mut frame, &step[6..8]);
                let decoded = decode(LinkType::ETHERNET, &frame, &cfg);
                c.push_capture(CaptureInput {
                    sighting: Sighting { ts: t, point: (0, (step[7] % 3) as u32), decoded, frame_len: frame.len() as u32 },
                    point_name: Text::from(format!("p{}", step[7] % 3)),
                    cpu: Some(cpu),
                    switch_nic: (step[0] % 6 == 5).then(|| Text::from(format!("nic{}", step[4] % 4))),
                    same_packet: None,
                    appearance: false,
                    drop: None,
                });
            }
        }
        c.drain_closed(|p| {
            let ids = flows.observe_packet(&p.sightings);
            summary.add(p, &ids);
        });
    }
    c.finish(|p| {
        let ids = flows.observe_packet(&p.sightings);
        summary.add(p, &ids);
    });
    let _ = summary.latency();
});
