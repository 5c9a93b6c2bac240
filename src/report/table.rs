//! Terminal tables and markdown: one table per section, paste-friendly.
//!
//! Columns are fixed and in a fixed order so output can be diffed and
//! grepped. When stdout is a terminal, tables are fitted to its width; when
//! piped, nothing is wrapped.

use std::fmt::Write as _;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

use super::{FlowRow, Report, Section, TunnelRow};
use crate::time::Timestamp;

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
    /// Fit to this many columns; None for full width (output piped).
    pub width: Option<u16>,
}

/// A section as header + rows of text; shared by the table and csv writers.
pub struct Grid {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Columns holding numbers, right-aligned in tables.
    pub numeric: Vec<usize>,
}

/// Times in tables: UTC time of day to the microsecond; the date is in the
/// captures section.
fn time_of_day(t: Timestamp) -> String {
    let s = t.to_string();
    // 2017-11-08T17:02:15.986383900Z -> 17:02:15.986383
    s.get(11..26).map(str::to_string).unwrap_or(s)
}

fn endpoint(addr: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if addr.contains(':') => format!("[{addr}]:{p}"),
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    }
}

fn tunnel_text(t: &TunnelRow) -> String {
    format!(
        "{} {} {} -> {}",
        t.kind,
        t.vni,
        endpoint(&t.outer_src, Some(t.outer_src_port)),
        endpoint(&t.outer_dst, Some(t.outer_dst_port))
    )
}

fn tunnels_text(f: &FlowRow) -> String {
    if f.tunnels.is_empty() {
        return "-".into();
    }
    let mut s = f.tunnels.iter().map(tunnel_text).collect::<Vec<_>>().join(" / ");
    if let Some(rev) = &f.tunnel_rev {
        if Some(rev) != f.tunnel.as_ref() {
            let _ = write!(s, " (rev {})", tunnel_text(rev));
        }
    }
    s
}

fn us(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1} µs")).unwrap_or_else(|| "-".into())
}

pub fn grid(report: &Report, section: Section) -> Grid {
    match section {
        Section::Captures => Grid {
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
            rows: report
                .captures
                .iter()
                .map(|c| {
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
                })
                .collect(),
            numeric: vec![2, 3, 6],
        },
        Section::Flows => Grid {
            header: vec![
                "ID",
                "PROTO",
                "SRC",
                "DST",
                "TUNNEL",
                "PKTS >",
                "PKTS <",
                "BYTES >",
                "BYTES <",
                "FIRST SEEN",
                "LAST SEEN",
                "TCP STATE",
                "HANDSHAKE",
                "RETX",
                "RST",
            ],
            rows: report
                .flows
                .iter()
                .map(|f| {
                    let tcp = f.tcp.as_ref();
                    vec![
                        f.id.to_string(),
                        f.proto.clone(),
                        endpoint(&f.src, f.src_port),
                        endpoint(&f.dst, f.dst_port),
                        tunnels_text(f),
                        f.packets_fwd.to_string(),
                        f.packets_rev.to_string(),
                        f.bytes_fwd.to_string(),
                        f.bytes_rev.to_string(),
                        time_of_day(f.first_seen),
                        time_of_day(f.last_seen),
                        tcp.map(|t| t.state.to_string()).unwrap_or_else(|| "-".into()),
                        us(tcp.and_then(|t| t.handshake_us)),
                        tcp.map(|t| t.retransmissions.to_string()).unwrap_or_else(|| "-".into()),
                        tcp.map(|t| t.resets.to_string()).unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect(),
            numeric: vec![0, 5, 6, 7, 8, 12, 13, 14],
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
            Grid { header: vec!["CHECK", "VALUE"], rows, numeric: vec![] }
        }
    }
}

fn render_grid(g: &Grid, opts: TableOptions) -> String {
    let mut t = Table::new();
    match opts.style {
        Style::Terminal => t.load_style(presets::ASCII_BORDERS_ONLY_CONDENSED),
        Style::Markdown => t.load_style(presets::ASCII_MARKDOWN),
    };
    match opts.width {
        Some(w) if opts.style == Style::Terminal => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(w);
        }
        _ => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
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
    t.to_string()
}

/// All requested sections, each under its name.
pub fn render(report: &Report, sections: &[Section], opts: TableOptions) -> String {
    let mut out = String::new();
    for (i, &s) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let g = grid(report, s);
        match opts.style {
            Style::Terminal => {
                let _ = writeln!(out, "{} ({})", s.name().to_uppercase(), g.rows.len());
            }
            Style::Markdown => {
                let _ = writeln!(out, "## {}\n", s.name());
            }
        }
        if g.rows.is_empty() {
            let _ = writeln!(out, "(none)");
            continue;
        }
        out.push_str(&render_grid(&g, opts));
        out.push('\n');
    }
    out
}
