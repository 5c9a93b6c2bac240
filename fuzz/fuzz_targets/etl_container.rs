//! The ETL container (buffers, records, decompression, time merge); and
//! reading with buffers decoded ahead on the pool gives exactly what
//! decoding each inline gives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::{EtlOptions, EtlReader, EtlRecord, EtlStats};
use overlay_trace::error::DecodeError;

type Reading = (Vec<EtlRecord>, Option<DecodeError>, Vec<DecodeError>, EtlStats);

fuzz_target!(|data: &[u8]| {
    let read = |parallel: bool| -> Result<Reading, DecodeError> {
        let opts = EtlOptions { parallel, ..EtlOptions::default() };
        let mut r = EtlReader::with_options(data, opts)?;
        let mut records = Vec::new();
        let mut error = None;
        while let Some(rec) = r.next_record() {
            match rec {
                Ok(rec) => records.push(rec),
                Err(e) => error = Some(e),
            }
            if error.is_some() || records.len() > 1_000_000 {
                break;
            }
        }
        Ok((records, error, r.take_warnings(), r.stats()))
    };
    assert!(read(true) == read(false), "parallel and inline reading differ");
});
