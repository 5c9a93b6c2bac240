//! Tables written row by row, without wrapping: what `analyze` prints when
//! its output is piped or saved. Byte for byte the layout comfy-table gives
//! for the same grid (a test holds the two together); comfy-table itself
//! is kept for fitting a terminal, where rows are few and wrapping matters.
//! It builds every cell in memory first, which on a capture with tens of
//! thousands of flows took longer than reading the capture.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::{Grid, Style};

/// Writes `g` in `style` to `out`.
pub fn write_grid(g: &Grid, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let escape = |c: &str| -> String {
        if style == Style::Markdown {
            c.replace('|', "\\|")
        } else {
            c.to_string()
        }
    };
    let columns = g.header.len().max(g.rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    let mut measure = |c: usize, cell: &str| {
        for line in lines(cell) {
            widths[c] = widths[c].max(width(line));
        }
    };
    for (c, h) in g.header.iter().enumerate() {
        measure(c, h);
    }
    for row in &g.rows {
        for (c, cell) in row.iter().enumerate() {
            if style == Style::Markdown && cell.contains('|') {
                measure(c, &escape(cell));
            } else {
                measure(c, cell);
            }
        }
    }
    // Columns kept whole are given a minimum of their longest line in
    // characters (see `render_grid`); only combining marks make that differ.
    for &c in &g.keep_whole {
        // A printable ASCII line is as many characters as columns: measured above.
        let longest = g
            .rows
            .iter()
            .filter_map(|r| r.get(c))
            .filter(|cell| !printable_ascii(cell))
            .flat_map(|cell| cell.lines())
            .chain(g.header.get(c).copied());
        if let Some(w) = longest.map(|l| l.chars().count()).max() {
            if let Some(width) = widths.get_mut(c) {
                *width = (*width).max(w);
            }
        }
    }
    let right: Vec<bool> = (0..columns).map(|c| g.numeric.contains(&c)).collect();
    // Each column is padded by one space either side; Terminal separates
    // columns by a space and frames the table, Markdown separates them by
    // bars and underlines the header.
    let inner: usize = widths.iter().map(|w| w + 2).sum::<usize>() + columns.saturating_sub(1);
    let mut line = String::new();
    if style == Style::Terminal {
        writeln!(out, "+{}+", "-".repeat(inner))?;
    }
    let header: Vec<String> = g.header.iter().map(|h| h.to_string()).collect();
    write_row(out, &mut line, &header, &widths, &right, style)?;
    match style {
        Style::Terminal => writeln!(out, "+{}+", "=".repeat(inner))?,
        Style::Markdown => {
            let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(out, "|{}|", dashes.join("|"))?;
        }
    }
    for row in &g.rows {
        if style == Style::Markdown {
            let escaped: Vec<String> = row.iter().map(|c| escape(c)).collect();
            write_row(out, &mut line, &escaped, &widths, &right, style)?;
        } else {
            write_row(out, &mut line, row, &widths, &right, style)?;
        }
    }
    if style == Style::Terminal {
        writeln!(out, "+{}+", "-".repeat(inner))?;
    }
    Ok(())
}

/// One grid row: as many lines as its tallest cell.
fn write_row(
    out: &mut dyn Write,
    line: &mut String,
    cells: &[String],
    widths: &[usize],
    right: &[bool],
    style: Style,
) -> io::Result<()> {
    let height = cells.iter().map(|c| lines(c).count().max(1)).max().unwrap_or(1);
    let separator = if style == Style::Terminal { " " } else { "|" };
    for i in 0..height {
        line.clear();
        line.push('|');
        for (c, &width) in widths.iter().enumerate() {
            if c > 0 {
                line.push_str(separator);
            }
            let text = cells.get(c).and_then(|cell| lines(cell).nth(i)).unwrap_or("");
            let pad = width - self::width(text).min(width);
            line.push(' ');
            if right[c] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            } else {
                line.push_str(text);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push(' ');
        }
        line.push_str("|\n");
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// The lines of a cell, as `str::lines` gives them; most cells are one.
fn lines(cell: &str) -> impl Iterator<Item = &str> {
    let single = !cell.is_empty() && !cell.contains('\n');
    let (one, many) = if single { (Some(cell), None) } else { (None, Some(cell.lines())) };
    one.into_iter().chain(many.into_iter().flatten())
}

/// Columns a line takes in a terminal; the same as its length in bytes when
/// it is printable ASCII, which is nearly always.
fn width(line: &str) -> usize {
    if printable_ascii(line) {
        line.len()
    } else {
        line.width()
    }
}

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
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
        ];
        let n = (*seed >> 33) as usize % 4;
        (0..n).map(|i| pieces[((*seed >> (8 * i)) as usize) % pieces.len()]).collect::<Vec<_>>().join("")
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
