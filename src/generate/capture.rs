//! The "capture-etl" scenario: the mix's traffic (`mix.rs`) as `netsh
//! trace start capture=yes` (or pktmon without its switch components)
//! writes it: only ndiscap 1001 fragments at the host NIC, each one whole
//! frame, with no switch-port fragments (1003) and no VmSwitch NBL events.
//! That makes it the input other ETL-to-pcapng converters accept too, so
//! benchmarks can set them side by side.
//!
//! The NIC's RSS keeps each flow direction on one CPU; the hash of the
//! frame's addresses and ports picks it here. The same seed gives the same
//! flows as the mix pcapng, but `size` counts ETL records (event header,
//! fragment fields, frame, padding), so a file of the same size holds
//! fewer packets. Times are kept to the 100 ns an ETL stores.

use std::io::{self, Seek, Write};

use super::etl::{EtlWriteStats, EtlWriter, EtlWriterOptions, EventRecord, DEFAULT_BUFFER_SIZE};
use super::frames::{fragment_keywords, rss_hash, NDIS_LEVEL, SYSTEM_PID};
use super::mix::{MixOptions, MixSource, Truth, START_NS};
use crate::capture::etl::providers::ndiscap;
use crate::capture::etl::raw::EVENT_HEADER_LEN;
use crate::capture::etl::record::aligned;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub mix: MixOptions,
    /// CPUs the packets are spread over.
    pub cpus: u16,
    /// Compress the data buffers.
    pub compress: bool,
}

/// IfIndex of the host NIC, in every fragment.
const IF_INDEX: u32 = 7;
/// Windows Server 2019.
const OS_BUILD: u32 = 17763;
/// The thread of CPU 0's DPCs; each next CPU's is 0x34 further, as in swarm.
const FIRST_DPC_TID: u32 = 0x0c4c;
/// MiniportIfIndex, LowerIfIndex and FragmentSize before the frame.
const FRAGMENT_FIELDS_LEN: usize = 12;

/// What one frame adds to the ETL: its whole 1001 record.
fn record_cost(frame_len: usize) -> u64 {
    aligned(EVENT_HEADER_LEN + FRAGMENT_FIELDS_LEN + frame_len) as u64
}

/// The packets the scenario writes for `opts`, in order: what a reader of
/// the file should get back.
pub fn packets(opts: &MixOptions) -> MixSource {
    MixSource::new(opts, "capture-etl", record_cost)
}

/// Writes the scenario as ETL to `out`; returns the truth and what the
/// writer wrote.
pub fn write<W: Write + Seek>(out: W, opts: &CaptureOptions) -> io::Result<(Truth, EtlWriteStats)> {
    let etl_opts = EtlWriterOptions {
        start: Timestamp(START_NS),
        cpus: opts.cpus,
        buffer_size: DEFAULT_BUFFER_SIZE,
        compress: opts.compress,
        provider_version: OS_BUILD,
        logger_name: "NetTrace".to_string(),
        log_file_name: "C:\\Windows\\TEMP\\NetTraces\\NetTrace.etl".to_string(),
        ..Default::default()
    };
    let mut w = EtlWriter::new(out, etl_opts)?;
    let mut source = packets(&opts.mix);
    while let Some(p) = source.next_packet() {
        let cpu = (rss_hash(p.frame) % opts.cpus as u32) as u16;
        let data = ndiscap::emit_fragment(IF_INDEX, IF_INDEX, p.frame);
        w.write_event(&EventRecord {
            ts: p.ts,
            cpu,
            provider: ndiscap::GUID,
            id: ndiscap::EVENT_FRAGMENT,
            version: 0,
            level: NDIS_LEVEL,
            opcode: 0,
            task: 0,
            keywords: fragment_keywords(p.direction, false),
            pid: SYSTEM_PID,
            tid: FIRST_DPC_TID + 0x34 * cpu as u32,
            user_data: &data,
        })?;
    }
    let (_, stats) = w.finish()?;
    Ok((source.into_truth(), stats))
}
