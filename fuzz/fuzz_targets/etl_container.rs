//! The ETL container (buffers, records, decompression, time merge).
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::EtlReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = EtlReader::new(data) {
        let mut n = 0;
        while let Some(rec) = r.next_record() {
            n += 1;
            if rec.is_err() || n > 1_000_000 {
                break;
            }
        }
        let _ = r.take_warnings();
    }
});
