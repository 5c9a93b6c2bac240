//! `overlay-trace diff A B`: what changed between two captures (or saved
//! JSON reports): flows that appeared or vanished, packet paths that
//! changed, new or vanished drops, changed NAT mappings, hop latency that
//! moved beyond a threshold, capture losses.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Flows,
    Paths,
    Drops,
    Nat,
    Latency,
    Health,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Flows => "flows",
            Category::Paths => "paths",
            Category::Drops => "drops",
            Category::Nat => "nat",
            Category::Latency => "latency",
            Category::Health => "health",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub category: Category,
    /// "appeared", "vanished", "changed".
    pub change: &'static str,
    pub what: String,
    /// How it was in A (null when it appeared) and in B (null when it vanished).
    pub a: Option<String>,
    pub b: Option<String>,
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".to_string(),
        Some(x) => x.to_string(),
    }
}

fn tuple(t: &Value) -> String {
    let ep = |a: String, p: &Value| match p {
        Value::Number(n) => format!("{a}:{n}"),
        _ => a,
    };
    format!(
        "{} {} -> {}",
        s(t, "proto"),
        ep(s(t, "src"), t.get("src_port").unwrap_or(&Value::Null)),
        ep(s(t, "dst"), t.get("dst_port").unwrap_or(&Value::Null))
    )
}

fn flow_key(f: &Value) -> String {
    let a = format!("{}:{}", s(f, "src"), s(f, "src_port"));
    let b = format!("{}:{}", s(f, "dst"), s(f, "dst_port"));
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let vni = f.get("tunnel").and_then(|t| t.get("vni")).map(|v| format!(" vni {v}")).unwrap_or_default();
    format!("{} {lo} <-> {hi}{vni}", s(f, "proto"))
}

fn path_key(p: &Value) -> (String, String) {
    let hops = p.get("hops").and_then(Value::as_array).cloned().unwrap_or_default();
    let first =
        hops.iter().find_map(|h| h.get("tuple").filter(|t| !t.is_null())).map(tuple).unwrap_or_else(|| "?".into());
    let shape: Vec<String> = hops.iter().map(|h| format!("{}@{}", s(h, "kind"), s(h, "point"))).collect();
    (first, format!("{} ({})", shape.join(" > "), s(p, "verdict")))
}

fn counts<'a>(items: impl Iterator<Item = &'a Value>, key: impl Fn(&Value) -> String) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in items {
        *m.entry(key(v)).or_insert(0) += 1;
    }
    m
}

fn arr<'a>(r: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    r.get(k).and_then(Value::as_array).into_iter().flatten()
}

/// Differences between two JSON reports (schema v1). `latency_threshold_us`:
/// a hop's p50, p99 or max must move by more than this to count.
pub fn diff(a: &Value, b: &Value, latency_threshold_us: f64) -> Vec<Change> {
    let mut out = Vec::new();
    let mut appeared_vanished = |cat: Category, ka: &BTreeMap<String, usize>, kb: &BTreeMap<String, usize>| {
        for (k, n) in ka {
            if !kb.contains_key(k) {
                out.push(Change {
                    category: cat,
                    change: "vanished",
                    what: k.clone(),
                    a: Some(format!("{n}")),
                    b: None,
                });
            }
        }
        for (k, n) in kb {
            if !ka.contains_key(k) {
                out.push(Change {
                    category: cat,
                    change: "appeared",
                    what: k.clone(),
                    a: None,
                    b: Some(format!("{n}")),
                });
            }
        }
    };
    appeared_vanished(Category::Flows, &counts(arr(a, "flows"), flow_key), &counts(arr(b, "flows"), flow_key));
    let drop_key = |d: &Value| format!("at {} by {}: {}", s(d, "point"), s(d, "by"), s(d, "reason"));
    let (da, db) = (counts(arr(a, "drops"), drop_key), counts(arr(b, "drops"), drop_key));
    appeared_vanished(Category::Drops, &da, &db);
    for (k, na) in &da {
        if let Some(nb) = db.get(k).filter(|nb| *nb != na) {
            out.push(Change {
                category: Category::Drops,
                change: "changed",
                what: k.clone(),
                a: Some(format!("{na} drops")),
                b: Some(format!("{nb} drops")),
            });
        }
    }
    // Paths: per first tuple, the shapes (hops and verdict) seen.
    let shapes = |r: &Value| {
        let mut m: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for p in arr(r, "paths") {
            let (first, shape) = path_key(p);
            *m.entry(first).or_default().entry(shape).or_insert(0) += 1;
        }
        m
    };
    let (pa, pb) = (shapes(a), shapes(b));
    let keys: std::collections::BTreeSet<&String> = pa.keys().chain(pb.keys()).collect();
    for k in keys {
        let (x, y) = (pa.get(k), pb.get(k));
        if x != y {
            let show = |m: Option<&BTreeMap<String, usize>>| {
                m.map(|m| {
                    m.iter()
                        .map(|(s, n)| if *n > 1 { format!("{n} × {s}") } else { s.clone() })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            };
            let change = match (x, y) {
                (None, _) => "appeared",
                (_, None) => "vanished",
                _ => "changed",
            };
            out.push(Change {
                category: Category::Paths,
                change,
                what: format!("path of {k}"),
                a: show(x),
                b: show(y),
            });
        }
    }
    // NAT: the mapping of each before-tuple at each place.
    let maps = |r: &Value| {
        let mut m = BTreeMap::new();
        for n in arr(r, "nat") {
            let before = n.get("before").map(tuple).unwrap_or_default();
            let after = n.get("after").map(tuple).unwrap_or_default();
            m.insert(format!("{before} at {}", s(n, "point")), after);
        }
        m
    };
    let (na, nb) = (maps(a), maps(b));
    for (k, x) in &na {
        match nb.get(k) {
            None => out.push(Change {
                category: Category::Nat,
                change: "vanished",
                what: k.clone(),
                a: Some(x.clone()),
                b: None,
            }),
            Some(y) if y != x => out.push(Change {
                category: Category::Nat,
                change: "changed",
                what: k.clone(),
                a: Some(x.clone()),
                b: Some(y.clone()),
            }),
            _ => {}
        }
    }
    for (k, y) in &nb {
        if !na.contains_key(k) {
            out.push(Change {
                category: Category::Nat,
                change: "appeared",
                what: k.clone(),
                a: None,
                b: Some(y.clone()),
            });
        }
    }
    // Latency of hops both reports have.
    let lat = |r: &Value| {
        arr(r, "latency")
            .map(|l| (format!("{} -> {}", s(l, "from"), s(l, "to")), l.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (la, lb) = (lat(a), lat(b));
    for (k, x) in &la {
        let Some(y) = lb.get(k) else { continue };
        let f = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        let moved: Vec<String> = ["p50_us", "p99_us", "max_us"]
            .iter()
            .filter(|q| (f(y, q) - f(x, q)).abs() > latency_threshold_us)
            .map(|q| q.trim_end_matches("_us").to_string())
            .collect();
        if !moved.is_empty() {
            let show = |v: &Value| {
                format!("p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs", f(v, "p50_us"), f(v, "p99_us"), f(v, "max_us"))
            };
            out.push(Change {
                category: Category::Latency,
                change: "changed",
                what: format!("{k} ({} moved)", moved.join(", ")),
                a: Some(show(x)),
                b: Some(show(y)),
            });
        }
    }
    for key in ["events_lost", "buffers_lost", "bytes_skipped"] {
        let g = |r: &Value| r.get("health").and_then(|h| h.get(key)).and_then(Value::as_u64).unwrap_or(0);
        if g(a) != g(b) {
            out.push(Change {
                category: Category::Health,
                change: "changed",
                what: key.replace('_', " "),
                a: Some(g(a).to_string()),
                b: Some(g(b).to_string()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nat_change_and_new_drop() {
        let a = json!({"flows": [], "paths": [], "drops": [], "latency": [], "health": {"events_lost": 0},
            "nat": [{"before": {"proto": "tcp", "src": "1.1.1.1", "src_port": 1, "dst": "2.2.2.2", "dst_port": 80},
                     "after": {"proto": "tcp", "src": "10.0.0.1", "src_port": 5, "dst": "2.2.2.2", "dst_port": 80}, "point": "sw"}]});
        let mut b = a.clone();
        b["nat"][0]["after"]["src_port"] = json!(6);
        b["drops"] = json!([{"point": "nic", "by": "VFP", "reason": "denied"}]);
        let d = diff(&a, &b, 50.0);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|c| c.category == Category::Nat
            && c.change == "changed"
            && c.b.as_deref() == Some("tcp 10.0.0.1:6 -> 2.2.2.2:80")));
        assert!(d.iter().any(|c| c.category == Category::Drops && c.change == "appeared"));
        assert!(diff(&a, &a, 50.0).is_empty());
    }
}
