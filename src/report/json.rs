//! The JSON report (schema v1): one object, keys always present.

use std::io::{self, Write};

use super::Report;

/// [`render`] straight to a writer, without the whole text in memory.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // The serializer writes a few bytes at a time: into a buffer of a type
    // it knows, not through `out`'s table of methods each time.
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    // Keep the kind of an I/O error (a closed pipe is not a failure).
    serde_json::to_writer_pretty(&mut out, report)
        .map_err(|e| e.io_error_kind().map_or_else(|| io::Error::other(e), io::Error::from))?;
    out.write_all(b"\n")?;
    out.flush()
}

pub fn render(report: &Report) -> String {
    // Serialising plain data with string keys cannot fail.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
