//! The whole pipeline: any bytes as a capture, analyzed to a report.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::report::Report;

fuzz_target!(|data: &[u8]| {
    let a = analyze_with(&[Path::new("fuzz").to_path_buf()], &AnalyzeOptions::default(), |p| {
        Capture::from_reader(p, Box::new(std::io::Cursor::new(data.to_vec())))
    });
    let r = Report::from_analysis(&a);
    let _ = overlay_trace::report::json::render(&r);
});
