//! Terminal tables and markdown: one table per section, paste-friendly.
//!
//! Columns are fixed and in a fixed order so output can be diffed and
//! grepped. When stdout is a terminal, tables are fitted to its width; when
//! piped, nothing is wrapped.

use std::fmt::Write as _;
use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
// Rows are formatted on every core: a capture can have hundreds of
// thousands of flows, and formatting them once took longer than reading.
use rayon::prelude::*;

use super::{Endpoint, FlowRow, Report, Section, TunnelRow};
use crate::time::Timestamp;

mod plain;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Plain ASCII borders for terminals and pasting into tickets.
    Terminal,
    /// GitHub-flavoured markdown tables.
    Markdown,
}

/// Render options.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub style: Style,
    /// Wrap cells to fit the terminal's width (stdout is a terminal);
    /// otherwise every row stays on one line, however wide.
    pub fit_to_terminal: bool,
}

/// A section as header + rows of text; shared by the table and csv writers.
pub struct Grid {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Columns holding numbers, right-aligned in tables.
    pub numeric: Vec<usize>,
    /// Columns never wrapped when fitting a terminal (addresses).
    pub keep_whole: Vec<usize>,
}

/// A [`Grid`] whose row `i` is `row(i)`, for `i` below `count`.
pub struct LazyGrid<'a> {
    pub header: Vec<&'static str>,
    pub count: usize,
    pub row: Box<dyn Fn(usize) -> Vec<String> + Sync + 'a>,
    pub numeric: Vec<usize>,
    pub keep_whole: Vec<usize>,
}

/// Times in tables: UTC time of day to the microsecond; the date is in the
/// captures section.
/// The UTC time of day to the microsecond (rounded down), as in
/// 2017-11-08T17:02:15.986383900Z -> 17:02:15.986383.
fn time_of_day(t: Timestamp) -> String {
    let of_day = t.0.rem_euclid(86_400 * 1_000_000_000);
    let (secs, nanos) = (of_day / 1_000_000_000, of_day % 1_000_000_000);
    format!("{:02}:{:02}:{:02}.{:06}", secs / 3600, secs / 60 % 60, secs % 60, nanos / 1000)
}

fn outer_text(t: Option<&TunnelRow>) -> String {
    match t {
        Some(t) => format!(
            "{} -> {}",
            Endpoint(t.outer_src.0, Some(t.outer_src_port)),
            Endpoint(t.outer_dst.0, Some(t.outer_dst_port))
        ),
        None => "-".into(),
    }
}

/// "vxlan 4096", or every level for nested tunnels: "vxlan 1/2/3".
fn tunnel_text(f: &FlowRow) -> String {
    let Some(first) = f.tunnels.first() else { return "-".into() };
    let vnis: Vec<String> = f.tunnels.iter().map(|t| t.vni.to_string()).collect();
    format!("{} {}", first.kind, vnis.join("/"))
}

/// One hop on one line: "+201.2 µs delivered 136a5e8a… [xio…] NBL 0x… 10.255.0.2:65408 -> 10.255.0.6:80 TCP".
fn write_hop(s: &mut String, h: &super::HopRow, first: crate::time::Timestamp) {
    s.push('+');
    write_duration(s, Some(h.ts.micros_since(first)));
    s.push(' ');
    s.push_str(h.kind);
    s.push(' ');
    s.push_str(&h.point);
    if let Some(to) = &h.to {
        s.push_str(" -> ");
        s.push_str(to);
    }
    if let Some(sw) = &h.switch {
        s.push_str(" [");
        s.push_str(sw);
        s.push(']');
    }
    if let Some(n) = &h.nbl {
        s.push_str(" NBL ");
        s.push_str(n);
    }
    if let Some(t) = &h.tuple {
        let _ = write!(s, " {t}");
    }
    if let Some(v) = h.vni {
        let _ = write!(s, " (vni {v})");
    }
}

/// A path's hops, a line each, in one cell: the table's longest cells,
/// made into one string sized once.
fn hops_cell(hops: &[super::HopRow]) -> String {
    let first = hops.first().map(|h| h.ts).unwrap_or_default();
    let mut cell = String::with_capacity(hops.len() * HOP_LINE_BYTES);
    for (i, h) in hops.iter().enumerate() {
        if i > 0 {
            cell.push('\n');
        }
        write_hop(&mut cell, h, first);
    }
    cell
}

/// About the length of a hop's line on a switching host (two NIC names,
/// a switch, an NBL and a tuple).
const HOP_LINE_BYTES: usize = 160;

/// "closed, handshake 277.0 µs", with retransmissions and resets when any.
fn tcp_text(f: &FlowRow) -> String {
    let Some(t) = &f.tcp else { return "-".into() };
    let mut s = t.state.to_string();
    if t.handshake_us.is_some() {
        let _ = write!(s, ", handshake {}", duration(t.handshake_us));
    }
    if t.retransmissions > 0 {
        let _ = write!(s, ", {} retx", t.retransmissions);
    }
    if t.resets > 0 {
        let _ = write!(s, ", {} rst", t.resets);
    }
    s
}

/// Durations scaled for reading: 277.0 µs, 217.2 ms, 1.250 s.
fn duration(v: Option<f64>) -> String {
    let mut s = String::new();
    write_duration(&mut s, v);
    s
}

fn write_duration(s: &mut String, v: Option<f64>) {
    use super::decimal::write_fixed;
    match v {
        None => s.push('-'),
        Some(us) if us.abs() < 1_000.0 => {
            write_fixed(s, us, 1);
            s.push_str(" µs");
        }
        Some(us) if us.abs() < 1_000_000.0 => {
            write_fixed(s, us / 1_000.0, 1);
            s.push_str(" ms");
        }
        Some(us) => {
            write_fixed(s, us / 1_000_000.0, 3);
            s.push_str(" s");
        }
    }
}

/// A section's table with its rows made on demand: a table of a million
/// flows is written without holding its cells (see `plain::write_rows`).
pub fn lazy_grid(report: &Report, section: Section) -> LazyGrid<'_> {
    match section {
        Section::Captures => LazyGrid {
            header: vec![
                "PATH",
                "FORMAT",
                "PACKETS",
                "EVENTS",
                "FIRST SEEN (UTC)",
                "LAST SEEN (UTC)",
                "INTERFACES",
                "STATUS",
            ],
            count: report.captures.len(),
            row: Box::new(move |i| {
                let c = &report.captures[i];
                vec![
                    c.path.clone(),
                    c.format.unwrap_or("-").to_string(),
                    c.packets.to_string(),
                    c.events.to_string(),
                    c.first_seen.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    c.last_seen.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    c.interfaces.len().to_string(),
                    c.error.as_ref().map(|_| "damaged").unwrap_or("ok").to_string(),
                ]
            }),
            numeric: vec![2, 3, 6],
            keep_whole: vec![],
        },
        Section::Flows => {
            let flows = report.flows.by_number();
            LazyGrid {
                header: vec![
                    "ID",
                    "PROTO",
                    "SRC",
                    "DST",
                    "TUNNEL",
                    "OUTER (> then <)",
                    "PKTS > / <",
                    "BYTES > / <",
                    "FIRST SEEN",
                    "DURATION",
                    "TCP",
                ],
                count: report.flows.len(),
                row: Box::new(move |i| {
                    flows.with(i, |f| {
                        let mut outer = outer_text(f.tunnel.as_ref());
                        if let Some(rev) = &f.tunnel_rev {
                            outer.push('\n');
                            outer.push_str(&outer_text(Some(rev)));
                        }
                        vec![
                            f.id.to_string(),
                            f.proto.to_string(),
                            Endpoint(f.src.0, f.src_port).to_string(),
                            Endpoint(f.dst.0, f.dst_port).to_string(),
                            tunnel_text(f),
                            outer,
                            format!("{} / {}", f.packets_fwd, f.packets_rev),
                            format!("{} / {}", f.bytes_fwd, f.bytes_rev),
                            time_of_day(f.first_seen),
                            duration(Some(f.last_seen.micros_since(f.first_seen))),
                            tcp_text(f),
                        ]
                    })
                }),
                numeric: vec![0, 6, 7, 9],
                keep_whole: vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            }
        }
        Section::Paths => LazyGrid {
            header: vec!["#", "FLOW", "VERDICT", "LATENCY", "HOPS (time since first hop, kind, where, packet)"],
            count: report.paths.len(),
            row: Box::new(move |i| {
                let p = &report.paths[i];
                vec![
                    (i + 1).to_string(),
                    p.flow_id.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                    p.verdict.to_string(),
                    duration(Some(p.latency_us)),
                    hops_cell(&p.hops),
                ]
            }),
            numeric: vec![0, 1, 3],
            keep_whole: vec![0, 1, 2, 3],
        },
        Section::Nat => {
            let nat = report.nat.by_number();
            LazyGrid {
                header: vec!["BEFORE", "AFTER", "WHERE", "PACKETS", "FLOWS"],
                count: report.nat.len(),
                row: Box::new(move |i| {
                    nat.with(i, |r| {
                        vec![
                            r.before.to_string(),
                            r.after.to_string(),
                            r.point.clone(),
                            r.packets.to_string(),
                            r.flow_ids.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", "),
                        ]
                    })
                }),
                numeric: vec![3],
                keep_whole: vec![0, 1],
            }
        }
        Section::Drops => {
            let drops = report.drops.by_number();
            LazyGrid {
                header: vec!["TIME", "WHERE", "BY", "REASON", "CODE", "FLOW", "NBL"],
                count: report.drops.len(),
                row: Box::new(move |i| {
                    drops.with(i, |d| {
                        vec![
                            time_of_day(d.ts),
                            d.point.clone(),
                            d.by.clone(),
                            d.reason.clone(),
                            d.reason_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                            d.flow_id.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                            d.nbl.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                }),
                numeric: vec![4, 5],
                keep_whole: vec![0],
            }
        }
        Section::Latency => LazyGrid {
            header: vec!["FROM", "TO", "COUNT", "P50", "P90", "P99", "MAX"],
            count: report.latency.len(),
            row: Box::new(move |i| {
                let l = &report.latency[i];
                vec![
                    l.from.clone(),
                    l.to.clone(),
                    l.count.to_string(),
                    duration(Some(l.p50_us)),
                    duration(Some(l.p90_us)),
                    duration(Some(l.p99_us)),
                    duration(Some(l.max_us)),
                ]
            }),
            numeric: vec![2, 3, 4, 5, 6],
            keep_whole: vec![2, 3, 4, 5, 6],
        },
        Section::Health => {
            let h = &report.health;
            let mut rows = vec![
                vec!["events lost".to_string(), h.events_lost.to_string()],
                vec!["buffers lost".to_string(), h.buffers_lost.to_string()],
                vec!["bytes skipped".to_string(), h.bytes_skipped.to_string()],
                vec!["packets without flow".to_string(), h.packets_without_flow.to_string()],
            ];
            for w in &h.warnings {
                rows.push(vec!["warning".to_string(), w.clone()]);
            }
            LazyGrid {
                header: vec!["CHECK", "VALUE"],
                count: rows.len(),
                row: Box::new(move |i| rows[i].clone()),
                numeric: vec![],
                keep_whole: vec![],
            }
        }
    }
}

/// A section's table, every cell made.
pub fn grid(report: &Report, section: Section) -> Grid {
    let g = lazy_grid(report, section);
    let rows = (0..g.count).into_par_iter().map(&g.row).collect();
    Grid { header: g.header, rows, numeric: g.numeric, keep_whole: g.keep_whole }
}

fn render_grid(g: &Grid, opts: TableOptions) -> String {
    let mut t = Table::new();
    match opts.style {
        Style::Terminal => t.load_style(presets::ASCII_BORDERS_ONLY_CONDENSED),
        Style::Markdown => t.load_style(presets::ASCII_MARKDOWN),
    };
    if opts.fit_to_terminal && opts.style == Style::Terminal {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    t.set_header(g.header.iter().copied());
    for row in &g.rows {
        let cells: Vec<String> = if opts.style == Style::Markdown {
            row.iter().map(|c| c.replace('|', "\\|")).collect()
        } else {
            row.clone()
        };
        t.add_row(cells);
    }
    for &c in &g.numeric {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    for &c in &g.keep_whole {
        let cells = g.rows.iter().filter_map(|r| r.get(c)).flat_map(|cell| cell.lines());
        let widest = cells.chain(g.header.get(c).copied()).map(|l| l.chars().count()).max();
        if let (Some(col), Some(w)) = (t.column_mut(c), widest) {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(w as u16 + 2)));
        }
    }
    t.to_string()
}

/// All requested sections, each under its name.
pub fn render(report: &Report, sections: &[Section], opts: TableOptions) -> String {
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = write(report, sections, opts, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`render`] straight to a writer: a report of a million flows is not
/// first built as one string.
pub fn write(report: &Report, sections: &[Section], opts: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    for (i, &s) in sections.iter().enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        let g = lazy_grid(report, s);
        match opts.style {
            Style::Terminal => writeln!(out, "{} ({})", s.name().to_uppercase(), g.count)?,
            Style::Markdown => writeln!(out, "## {}\n", s.name())?,
        }
        if g.count == 0 {
            writeln!(out, "(none)")?;
            continue;
        }
        if opts.fit_to_terminal && opts.style == Style::Terminal {
            out.write_all(render_grid(&grid(report, s), opts).as_bytes())?;
            out.write_all(b"\n")?;
        } else {
            plain::write_rows(&g, opts.style, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_is_the_timestamps_clock_to_the_microsecond() {
        for t in crate::time::tests::sample_times() {
            assert_eq!(time_of_day(t), t.to_string()[11..26], "{}", t.0);
        }
    }
}
