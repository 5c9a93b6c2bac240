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

mod cells;
mod plain;

use super::decimal::push_digits;
pub use cells::{push_number, Cells};

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

/// Writes a row's cells: see [`LazyGrid`].
pub type WriteRow<'a> = Box<dyn Fn(usize, &mut Cells) + Sync + 'a>;

/// A [`Grid`] whose row `i` is written by `row(i, cells)`, for `i` below
/// `count`, into an empty [`Cells`].
pub struct LazyGrid<'a> {
    pub header: Vec<&'static str>,
    pub count: usize,
    pub row: WriteRow<'a>,
    pub numeric: Vec<usize>,
    pub keep_whole: Vec<usize>,
}

impl LazyGrid<'_> {
    /// Row `i`, made now, its text sized to fit.
    pub fn make_row(&self, i: usize) -> Cells {
        // Written where there is room already, then copied: a row's text
        // grown from nothing was reallocated five times or more, which cost
        // as much as writing it.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Cells> = std::cell::RefCell::new(Cells::with_capacity(1024));
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            (self.row)(i, &mut scratch);
            scratch.clone()
        })
    }
}

/// The UTC time of day to the microsecond (rounded down), as in
/// 2017-11-08T17:02:15.986383900Z -> 17:02:15.986383. Times in tables are
/// times of day; the date is in the captures section.
fn push_time_of_day(s: &mut String, t: Timestamp) {
    let of_day = t.0.rem_euclid(86_400 * 1_000_000_000);
    let (secs, nanos) = ((of_day / 1_000_000_000) as u64, (of_day % 1_000_000_000) as u64);
    push_digits(s, secs / 3600, 2);
    s.push(':');
    push_digits(s, secs / 60 % 60, 2);
    s.push(':');
    push_digits(s, secs % 60, 2);
    s.push('.');
    push_digits(s, nanos / 1000, 6);
}

/// "10.0.0.9:42145 -> 10.0.0.4:4789", or "-" with no tunnel.
fn push_outer(s: &mut String, t: Option<&TunnelRow>) {
    match t {
        Some(t) => {
            Endpoint(t.outer_src.0, Some(t.outer_src_port)).push_to(s);
            s.push_str(" -> ");
            Endpoint(t.outer_dst.0, Some(t.outer_dst_port)).push_to(s);
        }
        None => s.push('-'),
    }
}

/// "vxlan 4096", or every level for nested tunnels: "vxlan 1/2/3".
fn push_tunnel(s: &mut String, f: &FlowRow) {
    let Some(first) = f.tunnels.first() else { return s.push('-') };
    s.push_str(first.kind);
    for (i, t) in f.tunnels.iter().enumerate() {
        s.push(if i == 0 { ' ' } else { '/' });
        push_number(s, u64::from(t.vni));
    }
}

/// "7 / 6": a count each way.
fn push_pair(s: &mut String, fwd: u64, rev: u64) {
    push_number(s, fwd);
    s.push_str(" / ");
    push_number(s, rev);
}

/// A number, or "-" for none.
fn push_optional(s: &mut String, n: Option<u64>) {
    match n {
        Some(n) => push_number(s, n),
        None => s.push('-'),
    }
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
        s.push(' ');
        t.push_to(s);
    }
    if let Some(v) = h.vni {
        s.push_str(" (vni ");
        push_number(s, u64::from(v));
        s.push(')');
    }
}

/// A path's hops, a line each, in one cell: the table's longest cells.
fn push_hops(s: &mut String, hops: &[super::HopRow]) {
    let first = hops.first().map(|h| h.ts).unwrap_or_default();
    s.reserve(hops.len() * HOP_LINE_BYTES);
    for (i, h) in hops.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        write_hop(s, h, first);
    }
}

/// About the length of a hop's line on a switching host (two NIC names,
/// a switch, an NBL and a tuple).
const HOP_LINE_BYTES: usize = 160;

/// "closed, handshake 277.0 µs", with retransmissions and resets when any.
fn push_tcp(s: &mut String, f: &FlowRow) {
    let Some(t) = &f.tcp else { return s.push('-') };
    s.push_str(t.state);
    if t.handshake_us.is_some() {
        s.push_str(", handshake ");
        write_duration(s, t.handshake_us);
    }
    if t.retransmissions > 0 {
        s.push_str(", ");
        push_number(s, t.retransmissions);
        s.push_str(" retx");
    }
    if t.resets > 0 {
        s.push_str(", ");
        push_number(s, t.resets);
        s.push_str(" rst");
    }
}

/// Durations scaled for reading: 277.0 µs, 217.2 ms, 1.250 s.
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
            row: Box::new(move |i, r| {
                let c = &report.captures[i];
                r.cell(&c.path);
                r.cell(c.format.unwrap_or("-"));
                r.number(c.packets);
                r.number(c.events);
                for seen in [c.first_seen, c.last_seen] {
                    match seen {
                        Some(t) => {
                            let _ = write!(r, "{t}");
                        }
                        None => r.text().push('-'),
                    }
                    r.end();
                }
                r.number(c.interfaces.len() as u64);
                r.cell(c.error.as_ref().map(|_| "damaged").unwrap_or("ok"));
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
                row: Box::new(move |i, r| {
                    flows.with(i, |f| {
                        r.number(f.id);
                        match f.proto.0.known_name() {
                            Some(name) => r.cell(name),
                            None => {
                                let _ = write!(r, "{}", f.proto);
                                r.end();
                            }
                        }
                        Endpoint(f.src.0, f.src_port).push_to(r.text());
                        r.end();
                        Endpoint(f.dst.0, f.dst_port).push_to(r.text());
                        r.end();
                        push_tunnel(r.text(), f);
                        r.end();
                        push_outer(r.text(), f.tunnel.as_ref());
                        if let Some(rev) = &f.tunnel_rev {
                            r.text().push('\n');
                            push_outer(r.text(), Some(rev));
                        }
                        r.end();
                        push_pair(r.text(), f.packets_fwd, f.packets_rev);
                        r.end();
                        push_pair(r.text(), f.bytes_fwd, f.bytes_rev);
                        r.end();
                        push_time_of_day(r.text(), f.first_seen);
                        r.end();
                        write_duration(r.text(), Some(f.last_seen.micros_since(f.first_seen)));
                        r.end();
                        push_tcp(r.text(), f);
                        r.end();
                    })
                }),
                numeric: vec![0, 6, 7, 9],
                keep_whole: vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            }
        }
        Section::Paths => LazyGrid {
            header: vec!["#", "FLOW", "VERDICT", "LATENCY", "HOPS (time since first hop, kind, where, packet)"],
            count: report.paths.len(),
            row: Box::new(move |i, r| {
                let p = &report.paths[i];
                r.number(i as u64 + 1);
                push_optional(r.text(), p.flow_id);
                r.end();
                r.cell(p.verdict);
                write_duration(r.text(), Some(p.latency_us));
                r.end();
                push_hops(r.text(), &p.hops);
                r.end();
            }),
            numeric: vec![0, 1, 3],
            keep_whole: vec![0, 1, 2, 3],
        },
        Section::Nat => {
            let nat = report.nat.by_number();
            LazyGrid {
                header: vec!["BEFORE", "AFTER", "WHERE", "PACKETS", "FLOWS"],
                count: report.nat.len(),
                row: Box::new(move |i, r| {
                    nat.with(i, |n| {
                        n.before.push_to(r.text());
                        r.end();
                        n.after.push_to(r.text());
                        r.end();
                        r.cell(&n.point);
                        r.number(n.packets);
                        for (k, &id) in n.flow_ids.iter().enumerate() {
                            if k > 0 {
                                r.text().push_str(", ");
                            }
                            push_number(r.text(), id);
                        }
                        r.end();
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
                row: Box::new(move |i, r| {
                    drops.with(i, |d| {
                        push_time_of_day(r.text(), d.ts);
                        r.end();
                        r.cell(&d.point);
                        r.cell(&d.by);
                        r.cell(&d.reason);
                        push_optional(r.text(), d.reason_code.map(u64::from));
                        r.end();
                        push_optional(r.text(), d.flow_id);
                        r.end();
                        r.cell(d.nbl.as_deref().unwrap_or("-"));
                    })
                }),
                numeric: vec![4, 5],
                keep_whole: vec![0],
            }
        }
        Section::Latency => LazyGrid {
            header: vec!["FROM", "TO", "COUNT", "P50", "P90", "P99", "MAX"],
            count: report.latency.len(),
            row: Box::new(move |i, r| {
                let l = &report.latency[i];
                r.cell(&l.from);
                r.cell(&l.to);
                r.number(l.count);
                for us in [l.p50_us, l.p90_us, l.p99_us, l.max_us] {
                    write_duration(r.text(), Some(us));
                    r.end();
                }
            }),
            numeric: vec![2, 3, 4, 5, 6],
            keep_whole: vec![2, 3, 4, 5, 6],
        },
        Section::Health => {
            let h = &report.health;
            let mut rows = vec![
                ("events lost", h.events_lost.to_string()),
                ("buffers lost", h.buffers_lost.to_string()),
                ("bytes skipped", h.bytes_skipped.to_string()),
                ("packets without flow", h.packets_without_flow.to_string()),
            ];
            for w in &h.warnings {
                rows.push(("warning", w.clone()));
            }
            LazyGrid {
                header: vec!["CHECK", "VALUE"],
                count: rows.len(),
                row: Box::new(move |i, r| {
                    r.cell(rows[i].0);
                    r.cell(&rows[i].1);
                }),
                numeric: vec![],
                keep_whole: vec![],
            }
        }
    }
}

/// A section's table, every cell made.
pub fn grid(report: &Report, section: Section) -> Grid {
    let g = lazy_grid(report, section);
    let rows = (0..g.count).into_par_iter().map(|i| g.make_row(i).to_strings()).collect();
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
    use crate::report::Address;

    fn text(push: impl FnOnce(&mut String)) -> String {
        let mut s = String::from("before ");
        push(&mut s);
        s.split_off("before ".len())
    }

    #[test]
    fn time_of_day_is_the_timestamps_clock_to_the_microsecond() {
        for t in crate::time::tests::sample_times() {
            assert_eq!(text(|s| push_time_of_day(s, t)), t.to_string()[11..26], "{}", t.0);
        }
    }

    #[test]
    fn cells_written_without_format_read_as_formatted() {
        let mut rng = crate::test_rng::XorShift64::new(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let (a, b) = (rng.next(), rng.next());
            let v4 = std::net::IpAddr::from((a as u32).to_be_bytes());
            let v6 = std::net::IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) << 64 | u128::from(b) >> (b % 128)));
            let (p, q) = ((b >> 16) as u16, (b >> 32) as u16);
            let tunnel = |vni: u32, src| TunnelRow {
                kind: "vxlan",
                vni,
                outer_src: Address(src),
                outer_src_port: p,
                outer_dst: Address(v4),
                outer_dst_port: q,
            };
            let tunnels: Vec<TunnelRow> = (0..a % 3).map(|k| tunnel((b >> k) as u32 & 0xFF_FFFF, v6)).collect();
            let mut flow = FlowRow {
                id: a,
                proto: crate::report::ProtoName(crate::packet::Proto::Tcp),
                src: Address(v4),
                src_port: Some(p),
                dst: Address(v6),
                dst_port: None,
                tunnel: tunnels.first().cloned(),
                tunnel_rev: None,
                tunnels: tunnels.clone(),
                packets_fwd: a,
                packets_rev: b,
                bytes_fwd: 0,
                bytes_rev: b % 1000,
                inner_ip_bytes_fwd: 0,
                inner_ip_bytes_rev: 0,
                first_seen: Timestamp(a as i64 >> 2),
                last_seen: Timestamp(a as i64 >> 2),
                tcp: Some(super::super::TcpRow {
                    state: "closed",
                    handshake_us: (b % 2 == 0).then_some(a as f64 / 1e9),
                    retransmissions: b % 3,
                    resets: a % 3,
                }),
                sightings: 1,
            };
            for endpoint in [Endpoint(v4, Some(p)), Endpoint(v4, None), Endpoint(v6, Some(p)), Endpoint(v6, None)] {
                assert_eq!(text(|s| endpoint.push_to(s)), endpoint.to_string());
            }
            let t = tunnels.first().map(|t| tunnel(t.vni, v4));
            let outer = match &t {
                Some(t) => format!(
                    "{} -> {}",
                    Endpoint(t.outer_src.0, Some(t.outer_src_port)),
                    Endpoint(t.outer_dst.0, Some(t.outer_dst_port))
                ),
                None => "-".into(),
            };
            assert_eq!(text(|s| push_outer(s, t.as_ref())), outer);
            let vnis: Vec<String> = tunnels.iter().map(|t| t.vni.to_string()).collect();
            let tunnel_text = match tunnels.first() {
                Some(first) => format!("{} {}", first.kind, vnis.join("/")),
                None => "-".into(),
            };
            assert_eq!(text(|s| push_tunnel(s, &flow)), tunnel_text);
            assert_eq!(text(|s| push_pair(s, a, b)), format!("{a} / {b}"));
            for tcp in [flow.tcp.clone(), None] {
                flow.tcp = tcp;
                let expected = match &flow.tcp {
                    None => "-".to_string(),
                    Some(t) => {
                        let mut s = t.state.to_string();
                        if let Some(us) = t.handshake_us {
                            s += &format!(", handshake {}", text(|d| write_duration(d, Some(us))));
                        }
                        if t.retransmissions > 0 {
                            s += &format!(", {} retx", t.retransmissions);
                        }
                        if t.resets > 0 {
                            s += &format!(", {} rst", t.resets);
                        }
                        s
                    }
                };
                assert_eq!(text(|s| push_tcp(s, &flow)), expected);
            }
            for proto in [0u8, 1, 6, 17, 58, 132, (a >> 8) as u8] {
                let row = super::super::TupleRow {
                    proto: crate::report::ProtoName(crate::packet::Proto::from_ip_number(proto)),
                    src: Address(v4),
                    src_port: Some(p),
                    dst: Address(if a % 2 == 0 { v4 } else { v6 }),
                    dst_port: (b % 2 == 0).then_some(q),
                };
                assert_eq!(text(|s| row.push_to(s)), row.to_string());
            }
        }
    }
}
