//! The pcap/pcapng/ETL readers on arbitrary bytes, with tiny reads so every
//! refill boundary is exercised.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::Capture;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(mut c) = Capture::from_reader_sized(std::path::Path::new("fuzz"), input, 13) {
        while let Ok(Some(_)) = c.next_event() {}
        let _ = c.take_warnings();
    }
});
