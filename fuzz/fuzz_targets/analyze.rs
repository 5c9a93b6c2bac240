//! The whole pipeline: any bytes as a capture, analyzed to a report.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::report::Report;

fuzz_target!(|data: &[u8]| {
    // One chunk of each list in memory, and the report's rows made from
    // the stores, as the command line does.
    let opts = AnalyzeOptions { in_memory: 1, ..AnalyzeOptions::default() };
    let mut a = analyze_with(&[Path::new("fuzz").to_path_buf()], &opts, |p| {
        Capture::from_reader(p, Box::new(std::io::Cursor::new(data.to_vec())))
    });
    let r = Report::from_analysis_taking_lists(&mut a);
    let _ = overlay_trace::report::json::render(&r);
});
