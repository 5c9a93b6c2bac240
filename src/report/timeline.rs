//! `overlay-trace trace`: each packet's path as a timeline, or as a mermaid
//! sequence diagram to paste into an issue or a wiki.

use std::fmt::Write as _;

use super::{HopRow, PathRow, TupleRow};

fn hop_where(h: &HopRow) -> String {
    let mut s = h.point.clone();
    if let Some(to) = &h.to {
        let _ = write!(s, " -> {to}");
    }
    if let Some(sw) = &h.switch {
        let _ = write!(s, " [{sw}]");
    }
    s
}

/// Text: a header line per packet, then one line per hop.
pub fn text(paths: &[(usize, &PathRow)]) -> String {
    let mut out = String::new();
    for (n, p) in paths {
        let flow = p.flow_id.map(|f| format!("flow {f}, ")).unwrap_or_default();
        let _ = writeln!(out, "packet {n} ({flow}{}, {:.1} µs)", p.verdict, p.latency_us);
        let first = p.hops.first().map(|h| h.ts).unwrap_or_default();
        for h in &p.hops {
            let since = format!("+{:.1}", h.ts.micros_since(first));
            let mut line = format!("  {}  {since:>10} µs  {:<10} {}", h.ts, h.kind, hop_where(h));
            if let Some(nbl) = &h.nbl {
                let _ = write!(line, "  NBL {nbl}");
            }
            if let Some(t) = &h.tuple {
                let _ = write!(line, "  {t}");
            }
            if let Some(v) = h.vni {
                let _ = write!(line, " (vni {v})");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Mermaid participant ids must be plain words.
fn participant_id(i: usize) -> String {
    format!("P{i}")
}

/// Quote-free text for mermaid labels.
fn label(s: &str) -> String {
    s.replace(['"', ';', '#', ':'], " ")
}

/// A mermaid `sequenceDiagram`: one participant per place the packets were
/// seen (the switch for switch events), one arrow per hop with the time it
/// took, notes where the tuple changed (NAT, decapsulation) or where a
/// packet was dropped.
pub fn mermaid(paths: &[(usize, &PathRow)]) -> String {
    let mut places: Vec<String> = Vec::new();
    let place = |h: &HopRow| h.switch.clone().unwrap_or_else(|| h.point.clone());
    for (_, p) in paths {
        for h in &p.hops {
            let pl = place(h);
            if !places.contains(&pl) {
                places.push(pl);
            }
        }
    }
    let id = |pl: &str| participant_id(places.iter().position(|x| x == pl).unwrap_or(0));
    let mut out = String::from("sequenceDiagram\n");
    for (i, pl) in places.iter().enumerate() {
        let _ = writeln!(out, "    participant {} as {}", participant_id(i), label(pl));
    }
    for (n, p) in paths {
        let _ =
            writeln!(out, "    Note over {}: packet {n} {} {:.1} us", id(&place(&p.hops[0])), p.verdict, p.latency_us);
        let mut last_tuple: Option<&TupleRow> = None;
        for w in p.hops.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let dt = b.ts.micros_since(a.ts);
            let what = match (&b.tuple, b.vni) {
                (Some(t), Some(v)) => format!("{} {} vni {v}", b.kind, label(&t.to_string())),
                (Some(t), None) => format!("{} {}", b.kind, label(&t.to_string())),
                (None, _) => b.kind.to_string(),
            };
            let _ = writeln!(out, "    {}->>{}: +{dt:.1} us {what}", id(&place(a)), id(&place(b)));
            if let (Some(prev), Some(now)) = (last_tuple.or(a.tuple.as_ref()), b.tuple.as_ref()) {
                if prev != now {
                    let _ = writeln!(
                        out,
                        "    Note over {}: rewritten {} to {}",
                        id(&place(b)),
                        label(&prev.to_string()),
                        label(&now.to_string())
                    );
                }
            }
            if b.kind == "dropped" || b.kind == "vetoed" {
                let _ = writeln!(out, "    Note over {}: {} by {}", id(&place(b)), b.kind, label(&b.point));
            }
            if b.tuple.is_some() {
                last_tuple = b.tuple.as_ref();
            } else if a.tuple.is_some() {
                last_tuple = a.tuple.as_ref();
            }
        }
    }
    out
}
