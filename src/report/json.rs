//! The JSON report (schema v1): one object, keys always present.
//!
//! Written as serde_json's pretty printer writes a [`Report`], byte for
//! byte (a test holds the two together), but its long lists are made on
//! every core: a 1 GiB switching host's report is 55 MB of JSON, and one
//! thread took longer to print it than two took to write its tables.

use std::borrow::Cow;
use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

use super::Report;

/// Rows a task serializes into one piece of text.
const PIECE_ROWS: usize = 256;

/// [`render`] straight to a writer, without the whole text in memory.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // The serializer writes a few bytes at a time: into a buffer of a type
    // it knows, not through `out`'s table of methods each time.
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    // The fields in the order `Report` declares them, which is the order
    // its derived `Serialize` gives them.
    out.write_all(b"{")?;
    member(&mut out, "schema", &report.schema, true)?;
    member(&mut out, "captures", &report.captures, false)?;
    list(&mut out, "flows", report.flows.chunks())?;
    list(&mut out, "paths", report.paths.chunks(PIECE_ROWS * 16).map(Cow::Borrowed))?;
    list(&mut out, "nat", report.nat.chunks())?;
    list(&mut out, "drops", report.drops.chunks())?;
    member(&mut out, "latency", &report.latency, false)?;
    member(&mut out, "health", &report.health, false)?;
    out.write_all(b"\n}\n")?;
    out.flush()
}

pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    // Serialising plain data with string keys into memory cannot fail.
    match write(report, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

/// `"key": value`, a member of the report's object, the first or after
/// the ones before.
fn member(out: &mut impl Write, key: &str, value: &impl Serialize, first: bool) -> io::Result<()> {
    out.write_all(if first { b"\n" } else { b",\n" })?;
    write!(out, "  \"{key}\": ")?;
    write_indented(out, value, 1)
}

/// `"key": [...]`, a member after the ones before, whose rows come a
/// chunk at a time: each chunk's rows serialized on every core, then
/// written in order.
fn list<'a, R: Serialize + Sync + Clone + 'a>(
    out: &mut impl Write,
    key: &str,
    chunks: impl Iterator<Item = Cow<'a, [R]>>,
) -> io::Result<()> {
    write!(out, ",\n  \"{key}\": [")?;
    let mut empty = true;
    for chunk in chunks {
        let pieces: Vec<Vec<u8>> = chunk
            .par_chunks(PIECE_ROWS)
            .map(|rows| {
                let mut text = Vec::new();
                for row in rows {
                    // Every row but the list's first follows a comma; the
                    // pieces are joined without one below.
                    text.extend_from_slice(b",\n    ");
                    write_indented(&mut text, row, 2)?;
                }
                Ok(text)
            })
            .collect::<io::Result<_>>()?;
        for piece in pieces.iter().filter(|p| !p.is_empty()) {
            // The list's first row follows the bracket, without a comma.
            let skip = if empty { 1 } else { 0 };
            out.write_all(&piece[skip..])?;
            empty = false;
        }
    }
    out.write_all(if empty { b"]" } else { b"\n  ]" })
}

/// Writes `value` to `out` as the pretty printer writes it `depth` levels
/// in: where a member's value or a list's item goes.
fn write_indented(out: &mut impl Write, value: &impl Serialize, depth: usize) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, PrettyAt { depth, has_value: false });
    // Keep the kind of an I/O error (a closed pipe is not a failure).
    value.serialize(&mut ser).map_err(|e| e.io_error_kind().map_or_else(|| io::Error::other(e), io::Error::from))
}

/// serde_json's pretty layout (two spaces a level, `": "` after keys,
/// empty lists and objects as `[]` and `{}`), from any depth: its own
/// printer always starts at the outermost level.
struct PrettyAt {
    depth: usize,
    /// Whether the innermost list or object open has an item yet.
    has_value: bool,
}

impl PrettyAt {
    fn open<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.new_line(out)?;
        }
        out.write_all(bracket)
    }

    /// Before an item: a comma unless it is the first, then its own line.
    fn item<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.new_line(out)
    }

    fn new_line<W: ?Sized + Write>(&self, out: &mut W) -> io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        out.write_all(b"\n")?;
        let mut left = 2 * self.depth;
        while left > 0 {
            let n = left.min(SPACES.len());
            out.write_all(&SPACES[..n])?;
            left -= n;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.item(out, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.item(out, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{analyze, AnalyzeOptions};
    use crate::generate::swarm::{self, SwarmOptions};

    /// What serde_json's own pretty printer writes for `report`.
    fn serde_pretty(report: &Report) -> String {
        serde_json::to_string_pretty(report).unwrap() + "\n"
    }

    #[test]
    fn the_report_is_written_as_serde_json_pretty_prints_it() {
        let dir = std::env::temp_dir().join(format!("overlay-trace-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let etl = dir.join("swarm.etl");
        let opts = SwarmOptions { seed: 3, flows: 200, size: 4 << 20, cpus: 2, compress: false };
        swarm::write(&etl, &dir.join("swarm.truth.json"), &opts).unwrap();
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        // Lists read back from the temporary file (a small --in-memory) and
        // made in memory, of several pieces, of one, and empty.
        for (capture, in_memory) in [
            (etl.clone(), 300),
            (etl.clone(), 0),
            (fixtures.join("vxlan/zeek_zeek__vxlan-encapsulated-http.pcap"), 0),
            (fixtures.join("scenarios/arp-drop-vfp.etl"), 0),
            (fixtures.join("etl/microsoft_demikernel__PktMon.etl"), 0),
        ] {
            let opts = AnalyzeOptions { in_memory, ..AnalyzeOptions::default() };
            let mut analysis = analyze(std::slice::from_ref(&capture), &opts);
            let report = Report::from_analysis_taking_lists(&mut analysis);
            assert!(!report.flows.is_empty(), "{}", capture.display());
            let expected = serde_pretty(&report);
            assert!(render(&report) == expected, "{} with --in-memory {in_memory}", capture.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[derive(Serialize, Clone)]
    struct Item {
        n: usize,
        name: String,
        tags: Vec<u32>,
        inner: Option<Box<Item>>,
    }

    #[derive(Serialize)]
    struct Doc {
        first: u32,
        rows: Vec<Item>,
        last: Vec<u32>,
    }

    #[test]
    fn lists_of_any_length_in_chunks_of_any_size_are_written_as_serde_json_pretty_prints_them() {
        let item = |n: usize| Item {
            n,
            name: format!("row \"{n}\"\n"),
            tags: (0..n as u32 % 3).collect(),
            inner: (n % 2 == 1).then(|| Box::new(Item { n, name: String::new(), tags: vec![], inner: None })),
        };
        for len in [0, 1, PIECE_ROWS - 1, PIECE_ROWS, PIECE_ROWS + 1, 3000] {
            for chunk in [1, 700, 1024] {
                let doc = Doc { first: 7, rows: (0..len).map(item).collect(), last: vec![] };
                let mut out = Vec::new();
                out.write_all(b"{").unwrap();
                member(&mut out, "first", &doc.first, true).unwrap();
                list(&mut out, "rows", doc.rows.chunks(chunk).map(Cow::Borrowed)).unwrap();
                member(&mut out, "last", &doc.last, false).unwrap();
                out.write_all(b"\n}").unwrap();
                let expected = serde_json::to_string_pretty(&doc).unwrap();
                assert!(String::from_utf8(out).unwrap() == expected, "{len} rows in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn an_empty_report_is_written_as_serde_json_pretty_prints_it() {
        let report = Report::from_analysis(&analyze(&[], &AnalyzeOptions::default()));
        assert_eq!(render(&report), serde_pretty(&report));
    }
}
