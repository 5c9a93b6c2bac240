//! Tables written row by row, without wrapping: what `analyze` prints when
//! its output is piped or saved. Byte for byte the layout comfy-table gives
//! for the same grid (a test holds the two together); comfy-table itself
//! is kept for fitting a terminal, where rows are few and wrapping matters.
//! It builds every cell in memory first, which on a capture with tens of
//! thousands of flows took longer than reading the capture.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use rayon::prelude::*;

use super::cells::{self, MAX_CELLS};
#[cfg(test)]
use super::Grid;
use super::{Cells, LazyGrid, Style};

/// Writes `g` in `style` to `out` (the tests' way in).
#[cfg(test)]
pub fn write_grid(g: &Grid, style: Style, out: &mut dyn Write) -> io::Result<()> {
    write_grid_keeping(g, style, out, KEPT_CELL_BYTES)
}

#[cfg(test)]
fn write_grid_keeping(g: &Grid, style: Style, out: &mut dyn Write, keep_bytes: usize) -> io::Result<()> {
    write_rows_keeping(&lazy(g), style, out, keep_bytes)
}

/// `g`'s rows, made from its cells when asked for.
#[cfg(test)]
fn lazy(g: &Grid) -> LazyGrid<'_> {
    LazyGrid {
        header: g.header.clone(),
        count: g.rows.len(),
        row: Box::new(|i, row| *row = Cells::of(&g.rows[i])),
        numeric: g.numeric.clone(),
        keep_whole: g.keep_whole.clone(),
    }
}

/// Rows are made this many at a time, on every core, and twice: once to
/// measure the columns, once to write them. A table of any length so takes
/// the memory of one chunk of cells...
const CHUNK: usize = 4096;
/// ...unless all its rows take less than this: then they are made once
/// and kept between the two passes. Making a switching host's ten thousand
/// listed paths twice was a third of writing its report; the 37,000 flows
/// of a 1 GiB pcapng take 11 MB, and making them twice was 8% of its run.
/// Kept, they leave its peak memory as it was: that comes while reading.
const KEPT_CELL_BYTES: usize = 24 << 20;

/// Rows made together, by one task: their cells' text end to end in one
/// string. A row so costs no allocation of its own, and a piece is freed
/// at once, by the thread that laid it out, instead of a string per row
/// freed wherever its row was laid out.
#[derive(Debug, Default)]
struct Piece {
    text: String,
    rows: Vec<ShownRow>,
}

/// Rows a task makes into one [`Piece`], and lays out as text at once.
const PIECE_ROWS: usize = 256;

/// Where a row's text is in its piece, and the columns each of its cells
/// takes, measured once for both passes.
#[derive(Debug)]
struct ShownRow {
    /// Where the row's text starts in [`Piece::text`].
    start: usize,
    /// Where each cell ends, counted from `start`.
    ends: [u32; MAX_CELLS],
    count: usize,
    /// Terminal columns of each cell, of its widest line when it has
    /// several; [`UNMEASURED`] when that does not fit.
    widths: [u16; MAX_CELLS],
    /// Cells of more than one line, a bit each.
    multiline: u16,
    /// Lines of its tallest cell, at least one.
    height: u16,
    /// Cells of printable ASCII alone, a bit each: as many columns as
    /// bytes, and so never more characters than columns.
    plain: u16,
}

// A bit of `multiline` for every cell.
const _: () = assert!(MAX_CELLS <= 16);

/// A cell's width too large for [`ShownRow::widths`], measured again when
/// it is written.
const UNMEASURED: u16 = u16::MAX;

impl Piece {
    /// Rows `range` of `g`, as shown in `style`.
    fn make(g: &LazyGrid<'_>, style: Style, range: std::ops::Range<usize>) -> Piece {
        let mut piece = Piece { text: String::new(), rows: Vec::with_capacity(range.len()) };
        let mut cells = Cells::with_capacity(1024);
        for (n, i) in range.clone().enumerate() {
            cells.clear();
            (g.row)(i, &mut cells);
            piece.push(&cells, style);
            if n == 0 {
                // Room for rows as long as the first: grown by doubling
                // from nothing, the text was copied about once more and
                // kept up to twice the room it needed.
                piece.text.reserve(piece.text.len() * (range.len() - 1));
            }
        }
        piece
    }

    /// A piece of one row, written as it is (a header).
    fn of_one(cells: &Cells) -> Piece {
        let mut piece = Piece::default();
        piece.push(cells, Style::Terminal);
        piece
    }

    /// Adds `cells` as shown in `style` (escaped for markdown).
    fn push(&mut self, cells: &Cells, style: Style) {
        let escaped;
        let cells = match style {
            Style::Markdown if cells.iter().any(|c| c.contains('|')) => {
                escaped = cells.map(|c| escape(c, style));
                &escaped
            }
            _ => cells,
        };
        let (mut widths, mut multiline, mut height, mut plain) = ([0; MAX_CELLS], 0, 1, 0);
        for (c, cell) in cells.iter().enumerate() {
            // Nearly every cell: measured by its length, in one pass.
            let width = if printable_ascii(cell) {
                plain |= 1 << c;
                cell.len()
            } else if is_multiline(cell) {
                multiline |= 1 << c;
                let (mut widest, mut count, mut rest) = (0, 0usize, cell);
                while let Some(line) = next_line(&mut rest) {
                    widest = widest.max(width(line));
                    count += 1;
                }
                height = height.max(u16::try_from(count).unwrap_or(u16::MAX));
                widest
            } else {
                width(cell)
            };
            widths[c] = u16::try_from(width).unwrap_or(UNMEASURED);
        }
        let start = self.text.len();
        self.text.push_str(cells.as_str());
        let mut ends = [0; MAX_CELLS];
        ends[..cells.len()].copy_from_slice(cells.ends());
        self.rows.push(ShownRow { start, ends, count: cells.len(), widths, multiline, height, plain });
    }

    fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        self.rows.iter().map(|shape| Row { text: &self.text, shape })
    }

    /// Memory the piece takes while it is kept.
    fn bytes(&self) -> usize {
        self.text.capacity() + self.rows.capacity() * std::mem::size_of::<ShownRow>()
    }
}

/// A row of a piece: its shape, and the piece's text it reads its cells
/// from.
#[derive(Clone, Copy)]
struct Row<'a> {
    text: &'a str,
    shape: &'a ShownRow,
}

impl<'a> Row<'a> {
    fn len(&self) -> usize {
        self.shape.count
    }

    /// Cell `c`, if the row has it.
    fn get(&self, c: usize) -> Option<&'a str> {
        cells::cell(self.text, self.shape.start, &self.shape.ends[..self.shape.count], c)
    }

    fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let row = *self;
        (0..row.len()).filter_map(move |c| row.get(c))
    }

    fn is_multiline(&self, c: usize) -> bool {
        self.shape.multiline & (1 << c) != 0
    }

    fn is_plain(&self, c: usize) -> bool {
        c < MAX_CELLS && self.shape.plain & (1 << c) != 0
    }

    fn height(&self) -> u16 {
        self.shape.height
    }

    /// Columns cell `c` takes, or its widest line.
    fn width(&self, c: usize) -> usize {
        match self.shape.widths[c] {
            UNMEASURED => self.get(c).map_or(0, |cell| cell.lines().map(width).max().unwrap_or(0)),
            w => w as usize,
        }
    }
}

/// Widths of the columns so far: in terminal columns, and for the columns
/// kept whole in characters (see `render_grid`; only combining marks make
/// the two differ).
#[derive(Default)]
struct Measure {
    widths: Vec<usize>,
    chars: Vec<usize>,
}

impl Measure {
    fn add(&mut self, row: Row<'_>, style: Style, keep_whole: &[usize]) {
        let count = row.len();
        if self.widths.len() < count {
            self.widths.resize(count, 0);
            self.chars.resize(count, 0);
        }
        for c in 0..count {
            self.widths[c] = self.widths[c].max(row.width(c));
        }
        for &c in keep_whole {
            // A printable ASCII line is as many characters as columns.
            if row.is_plain(c) {
                continue;
            }
            let Some(cell) = row.get(c).filter(|cell| !printable_ascii(cell)) else { continue };
            for line in cell.lines() {
                // Counted as written, before markdown's escaping added a
                // backslash before each bar.
                let escapes = if style == Style::Markdown { line.matches('|').count() } else { 0 };
                self.chars[c] = self.chars[c].max(line.chars().count() - escapes);
            }
        }
    }

    fn merge(mut self, other: Measure) -> Measure {
        if self.widths.len() < other.widths.len() {
            return other.merge(self);
        }
        for (c, (w, n)) in other.widths.iter().zip(&other.chars).enumerate() {
            self.widths[c] = self.widths[c].max(*w);
            self.chars[c] = self.chars[c].max(*n);
        }
        self
    }
}

fn escape(cell: &str, style: Style) -> String {
    if style == Style::Markdown {
        cell.replace('|', "\\|")
    } else {
        cell.to_string()
    }
}

/// Writes `g` in `style` to `out`, making its rows a chunk at a time.
pub fn write_rows(g: &LazyGrid<'_>, style: Style, out: &mut dyn Write) -> io::Result<()> {
    write_rows_keeping(g, style, out, KEPT_CELL_BYTES)
}

/// Rows `start..end` of `g`, as shown in `style`, made on every core a
/// piece at a time.
fn shown_rows(g: &LazyGrid<'_>, style: Style, start: usize, end: usize) -> Vec<Piece> {
    let pieces = (end - start).div_ceil(PIECE_ROWS);
    (0..pieces)
        .into_par_iter()
        .map(|p| {
            let from = start + p * PIECE_ROWS;
            Piece::make(g, style, from..end.min(from + PIECE_ROWS))
        })
        .collect()
}

/// [`write_rows`], keeping the rows made to measure the columns for
/// writing them when they take at most `keep_bytes`.
fn write_rows_keeping(g: &LazyGrid<'_>, style: Style, out: &mut dyn Write, keep_bytes: usize) -> io::Result<()> {
    // Headers are written as they are, never escaped.
    let header = Piece::of_one(&Cells::of(&g.header));
    // A chunk at a time, as the rows are written below: rows made from
    // stored flows are made a chunk at a time, and threads that went far
    // apart would each want a chunk of their own.
    let mut measure = Measure::default();
    // The rows made so far, while all the table's rows would fit in
    // `keep_bytes` at the size of these.
    let mut kept: Option<Vec<Piece>> = Some(Vec::new());
    let mut kept_bytes = 0;
    for start in (0..g.count).step_by(CHUNK) {
        let end = g.count.min(start + CHUNK);
        let pieces = shown_rows(g, style, start, end);
        let chunk = pieces
            .par_iter()
            .fold(Measure::default, |mut m, piece| {
                piece.rows().for_each(|row| m.add(row, style, &g.keep_whole));
                m
            })
            .reduce(Measure::default, Measure::merge);
        measure = measure.merge(chunk);
        kept_bytes += pieces.iter().map(Piece::bytes).sum::<usize>();
        kept = kept.filter(|_| all_would_fit(kept_bytes, end, g.count, keep_bytes));
        if let Some(k) = kept.as_mut() {
            k.extend(pieces);
        }
    }
    header.rows().for_each(|row| measure.add(row, Style::Terminal, &[]));
    let Measure { mut widths, chars } = measure;
    for &c in &g.keep_whole {
        let header_chars = g.header.get(c).map_or(0, |h| h.chars().count());
        if let Some(width) = widths.get_mut(c) {
            *width = (*width).max(chars[c]).max(header_chars);
        }
    }
    let columns = widths.len();
    let right: Vec<bool> = (0..columns).map(|c| g.numeric.contains(&c)).collect();
    // Each column is padded by one space either side; Terminal separates
    // columns by a space and frames the table, Markdown separates them by
    // bars and underlines the header.
    let inner: usize = widths.iter().map(|w| w + 2).sum::<usize>() + columns.saturating_sub(1);
    let layout = Layout { widths: &widths, right: &right, style, line_bytes: inner + 3 };
    if style == Style::Terminal {
        writeln!(out, "+{}+", "-".repeat(inner))?;
    }
    out.write_all(&layout.render(header))?;
    match style {
        Style::Terminal => writeln!(out, "+{}+", "=".repeat(inner))?,
        Style::Markdown => {
            let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "|{}|", dashes.join("|"))?;
        }
    }
    if let Some(pieces) = kept {
        layout.write_rendered(out, pieces)?;
        return finish(out, style, inner);
    }
    for start in (0..g.count).step_by(CHUNK) {
        layout.write_rendered(out, shown_rows(g, style, start, g.count.min(start + CHUNK)))?;
    }
    finish(out, style, inner)
}

/// Would `rows` rows fit in `budget` bytes, if the first `made` took
/// `bytes`? Asked after each chunk: a table that will not fit stops being
/// kept at its first chunk. Kept until they went over, a 4 GiB pcapng's
/// 144,000 flows held up to 24 MB of rows before they were let go, and the
/// run's peak memory came then: 41.9 MiB, against 33.5 MiB without the
/// flows table (and 31.3 MiB for a 1 GiB pcapng either way).
fn all_would_fit(bytes: usize, made: usize, rows: usize, budget: usize) -> bool {
    let per_row = bytes as f64 / made.max(1) as f64;
    per_row * rows as f64 <= budget as f64
}

/// Pieces laid out as text at once (2,048 rows), on every core, then
/// written in order: a table's text is about twice its cells (padding),
/// and laying it out and freeing its cells was half of what the calling
/// thread did to write a switching host's report.
const RENDERED_AT_ONCE: usize = 8;

/// How a table's rows are laid out, once its columns are measured.
struct Layout<'a> {
    widths: &'a [usize],
    right: &'a [bool],
    style: Style,
    /// Bytes of a line of printable ASCII: the columns and the frame.
    line_bytes: usize,
}

impl Layout<'_> {
    /// Writes `pieces` in order, laid out on every core.
    fn write_rendered(&self, out: &mut dyn Write, pieces: Vec<Piece>) -> io::Result<()> {
        let mut pieces = pieces.into_iter();
        loop {
            let group: Vec<Piece> = pieces.by_ref().take(RENDERED_AT_ONCE).collect();
            if group.is_empty() {
                return Ok(());
            }
            let texts: Vec<Vec<u8>> = group.into_par_iter().map(|piece| self.render(piece)).collect();
            for text in texts {
                out.write_all(&text)?;
            }
        }
    }

    /// The text of a piece's rows, as they would be written one by one.
    fn render(&self, piece: Piece) -> Vec<u8> {
        // Sized for rows as tall as the first: growing a piece by doubling
        // copied its text about once more.
        let height = piece.rows.first().map_or(1, |row| row.height as usize);
        let mut text = Vec::with_capacity(piece.rows.len() * height * self.line_bytes);
        for row in piece.rows() {
            self.write_row(&mut text, row);
        }
        text
    }

    /// One row: as many lines as its tallest cell.
    fn write_row(&self, out: &mut Vec<u8>, row: Row<'_>) {
        if row.shape.multiline == 0 {
            // Nearly every row: one line, its cells as they are, with the
            // widths measured when it was made.
            self.write_line(out, |c| row.get(c).map_or(("", 0), |cell| (cell, row.width(c))));
            return;
        }
        // The cells of a taller row are read a line at a time, each once.
        let mut rest = [""; MAX_CELLS];
        row.iter().zip(rest.iter_mut()).for_each(|(cell, rest)| *rest = cell);
        for line in 0..row.height() {
            self.write_line(out, |c| match row.get(c) {
                Some(_) if row.is_multiline(c) => {
                    let text = next_line(&mut rest[c]).unwrap_or("");
                    (text, self::width(text))
                }
                // A one-line cell of a taller row is in its first line,
                // whole: it has no line break to look for.
                Some(cell) if line == 0 => (cell, row.width(c)),
                _ => ("", 0),
            });
        }
    }

    /// One line of a row: each column's text and the columns it takes,
    /// as `cell(c)` gives them, padded to the column's width.
    fn write_line<'t>(&self, out: &mut Vec<u8>, mut cell: impl FnMut(usize) -> (&'t str, usize)) {
        let columns = self.widths.len();
        let mut parts = [("", 0); MAX_CELLS];
        // A bar, the columns with a space either side and a separator
        // between each two, then a bar and the line's end.
        let mut bytes = 3 + columns.saturating_sub(1);
        for (c, part) in parts.iter_mut().enumerate().take(columns) {
            let (text, shown) = cell(c);
            let pad = self.widths[c] - shown.min(self.widths[c]);
            *part = (text, pad);
            bytes += 2 + text.len() + pad;
        }
        // Laid over a line of spaces: padding is then only skipped over,
        // and a cell's text copied at once.
        let start = out.len();
        out.resize(start + bytes, b' ');
        let line = &mut out[start..];
        line[0] = b'|';
        let mut at = 1;
        for (c, &(text, pad)) in parts.iter().enumerate().take(columns) {
            if c > 0 {
                if self.style == Style::Markdown {
                    line[at] = b'|';
                }
                at += 1;
            }
            let text_at = if self.right[c] { at + 1 + pad } else { at + 1 };
            line[text_at..text_at + text.len()].copy_from_slice(text.as_bytes());
            at += 2 + text.len() + pad;
        }
        line[at] = b'|';
        line[at + 1] = b'\n';
    }
}

/// The table's bottom line, if its style has one.
fn finish(out: &mut dyn Write, style: Style, inner: usize) -> io::Result<()> {
    if style == Style::Terminal {
        writeln!(out, "+{}+", "-".repeat(inner))?;
    }
    Ok(())
}

fn is_multiline(cell: &str) -> bool {
    cell.as_bytes().contains(&b'\n')
}

/// The first line of `rest`, taken off it, as `str::lines` gives the
/// lines of a text: without its "\n" or "\r\n", and none after a final
/// "\n".
fn next_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    if rest.is_empty() {
        return None;
    }
    // `find` looks for the byte with memchr, a word at a time: a path's
    // hops are a cell of a thousand bytes, read a line at a time.
    let (line, after) = match rest.find('\n') {
        Some(at) => {
            let line = &rest[..at];
            (line.strip_suffix('\r').unwrap_or(line), &rest[at + 1..])
        }
        None => (*rest, ""),
    };
    *rest = after;
    Some(line)
}

/// Columns a line takes in a terminal; the same as its length in bytes when
/// it is printable ASCII, which is nearly always.
fn width(line: &str) -> usize {
    // Every duration under a millisecond has a micro sign (two bytes): one
    // column, and never part of a sequence that changes a width, so it is
    // counted here too, where looking every character of a hop's line up
    // cost a tenth of a run. Eight printable bytes at a time: a report
    // measures and writes every cell of its tables.
    let bytes = line.as_bytes();
    let (mut at, mut micro) = (0, 0);
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            if printable_word(u64::from_le_bytes(word.try_into().expect("eight bytes"))) {
                at += 8;
                continue;
            }
        }
        match bytes[at] {
            b' '..=b'~' => at += 1,
            0xC2 if bytes.get(at + 1) == Some(&0xB5) => {
                micro += 1;
                at += 2;
            }
            _ => return line.width(),
        }
    }
    line.len() - micro
}

/// Whether all eight bytes of `v` are printable ASCII (0x20 to 0x7E).
fn printable_word(v: u64) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // With no high bit set, adding 0x60 sets it exactly in the bytes from
    // 0x20 up, and adding 1 exactly in 0x7F; neither carries into the
    // next byte.
    v & HIGH == 0
        && v.wrapping_add(0x6060_6060_6060_6060) & HIGH == HIGH
        && v.wrapping_add(0x0101_0101_0101_0101) & HIGH == 0
}

/// Whether every byte of `s` is printable ASCII, eight at a time.
fn printable_ascii(s: &str) -> bool {
    let mut words = s.as_bytes().chunks_exact(8);
    words.by_ref().all(|w| printable_word(u64::from_le_bytes(w.try_into().expect("eight bytes"))))
        && words.remainder().iter().all(|b| (b' '..=b'~').contains(b))
}

#[cfg(test)]
mod tests {
    use super::super::{render_grid, Grid, Style, TableOptions};
    use super::write_grid;

    fn plain(g: &Grid, style: Style) -> String {
        let mut out = Vec::new();
        write_grid(g, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn comfy(g: &Grid, style: Style) -> String {
        render_grid(g, TableOptions { style, fit_to_terminal: false }) + "\n"
    }

    /// A small deterministic generator of awkward cells: empty, multi-line,
    /// wide and combining characters, bars, numbers.
    fn cell(seed: &mut u64) -> String {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pieces = [
            "",
            "a",
            "10.0.0.4:80",
            "µs",
            "名前",
            "x|y",
            "line\nnext",
            "  lead",
            "e\u{301}",
            "12345",
            "-",
            "\r",
            "t\tb",
            // Wider than the run of spaces a cell is padded with at once.
            "+8.3 µs received Microsoft Hyper-V Network Adapter #3 [swarm-sw] NBL 0xFFFF880A430963E0 10.255.4.33:40251",
        ];
        let n = (*seed >> 33) as usize % 4;
        (0..n).map(|i| pieces[((*seed >> (8 * i)) as usize) % pieces.len()]).collect::<Vec<_>>().join("")
    }

    /// Rows kept between the two passes or made again, whatever the
    /// budget: the same bytes.
    #[test]
    fn keeping_rows_or_making_them_again_writes_the_same() {
        let mut seed = 11;
        let rows: Vec<Vec<String>> =
            (0..9_000).map(|i| vec![i.to_string(), cell(&mut seed), cell(&mut seed)]).collect();
        let g = Grid { header: vec!["N", "A", "B"], rows, numeric: vec![0], keep_whole: vec![2] };
        for style in [Style::Terminal, Style::Markdown] {
            let write = |keep_bytes| {
                let mut out = Vec::new();
                super::write_grid_keeping(&g, style, &mut out, keep_bytes).unwrap();
                out
            };
            let all_kept = write(usize::MAX);
            // Laid out in pieces on several threads, written in order.
            assert_eq!(String::from_utf8(all_kept.clone()).unwrap(), comfy(&g, style), "{style:?}");
            assert_eq!(write(0), all_kept, "{style:?}");
            // The first chunk fits, the table does not: let go at once.
            let first_chunk: usize =
                super::shown_rows(&super::lazy(&g), style, 0, super::CHUNK).iter().map(super::Piece::bytes).sum();
            assert_eq!(write(first_chunk), all_kept, "{style:?}");
            assert!(String::from_utf8(all_kept).unwrap().lines().count() > 9_000);
        }
    }

    /// A table is kept when all its rows would fit at the size of those
    /// made so far, and let go at the first chunk that says they would not.
    #[test]
    fn rows_are_kept_only_while_the_whole_table_would_fit() {
        use super::all_would_fit;
        const MB: usize = 1 << 20;
        // A 1 GiB pcapng's 37,000 flows: 11 MB, kept.
        assert!(all_would_fit(1_200_000, 4096, 37_000, 24 * MB));
        // A 4 GiB one's 144,000 flows: let go after the first chunk.
        assert!(!all_would_fit(1_200_000, 4096, 144_000, 24 * MB));
        // Exactly the budget fits; nothing made yet, or no rows, fit.
        assert!(all_would_fit(10, 10, 100, 100));
        assert!(!all_would_fit(10, 10, 101, 100));
        assert!(all_would_fit(0, 0, 1_000_000, 0));
        assert!(all_would_fit(0, 4096, 0, 0));
    }

    #[test]
    fn lines_are_those_of_str_lines() {
        let pieces = ["", "a", "\n", "\r", "\r\n", "µ", "bc", "\n\n"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}");
                    let (mut rest, mut lines) = (text.as_str(), Vec::new());
                    while let Some(line) = super::next_line(&mut rest) {
                        lines.push(line);
                    }
                    assert_eq!(lines, text.lines().collect::<Vec<_>>(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn a_word_is_printable_when_each_byte_is() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"a~ Z0|.x";
                word[at] = b;
                let printable = (b' '..=b'~').contains(&b);
                assert_eq!(super::printable_word(u64::from_le_bytes(word)), printable, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn width_is_the_terminal_width() {
        use unicode_width::UnicodeWidthStr;
        let pieces =
            ["", "a", "10.0.0.4:80 ", "µ", "µs", "名前", "e\u{301}", "\t", "\u{7f}", "Â", "¬", "~", "\u{b5}\u{b5}"];
        let mut seed = 11u64;
        for _ in 0..5000 {
            let mut line = String::new();
            for _ in 0..seed % 7 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                line.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            assert_eq!(super::width(&line), line.width(), "{line:?}");
            seed = seed.wrapping_add(1);
        }
    }

    #[test]
    fn same_bytes_as_comfy_table() {
        let mut seed = 7;
        for round in 0..300 {
            let columns = 1 + round % 6;
            let header: Vec<&'static str> = ["ID", "PROTO", "SRC", "PKTS > / <", "HOPS", "X"][..columns].to_vec();
            let rows = (0..round % 9).map(|_| (0..columns).map(|_| cell(&mut seed)).collect()).collect();
            let numeric = (0..columns).filter(|c| (round + c) % 3 == 0).collect();
            let g = Grid { header, rows, numeric, keep_whole: vec![2] };
            for style in [Style::Terminal, Style::Markdown] {
                assert_eq!(plain(&g, style), comfy(&g, style), "round {round} {style:?}");
            }
        }
    }
}
