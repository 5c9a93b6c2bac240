//! `overlay-trace check`: assertions about a report, read from a TOML
//! expectation file, each evaluated to pass or fail with what was observed.
//!
//! ```toml
//! [[flow]]                      # a flow must exist (or not, with present = false)
//! match = "tcp 92.234.68.72:* -> 10.0.0.4:80"
//! vni = 4096                    # optional: the tunnel's VNI
//!
//! [[path]]                      # every packet going this way
//! match = "tcp * -> 10.0.0.4:80"
//! verdict = "delivered"
//! hops = ["capture", "received", "routed", "delivered", "capture"]
//!
//! [[nat]]
//! before = "tcp 92.234.68.72:53711 -> 10.0.0.4:80"
//! after = "tcp 10.255.0.2:65408 -> 10.255.0.6:80"
//! at = "xio0654aj01a6x60kfnoe4r12"
//!
//! [[drop]]                      # expected = false forbids such drops
//! by = "Virtual Filtering Platform*"
//! reason = "Outgoing packet dropped by VFP"
//!
//! [[latency]]
//! from = "received@*"
//! to = "delivered@*"
//! p99_us_max = 250.0
//!
//! [health]
//! events_lost = 0
//! buffers_lost = 0
//! ```
//! Patterns: `PROTO SRC[:PORT] -> DST[:PORT]`, each part `*` or with `*`
//! wildcards; for flows a pattern matches either direction, for paths and
//! rewrites the packet's own direction.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::{FlowRow, Report, TupleRow};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub flow: Vec<FlowExpect>,
    #[serde(default)]
    pub path: Vec<PathExpect>,
    #[serde(default)]
    pub nat: Vec<NatExpect>,
    #[serde(default)]
    pub drop: Vec<DropExpect>,
    #[serde(default)]
    pub latency: Vec<LatencyExpect>,
    pub health: Option<HealthExpect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowExpect {
    #[serde(rename = "match")]
    pub pattern: String,
    pub vni: Option<u32>,
    #[serde(default = "yes")]
    pub present: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathExpect {
    #[serde(rename = "match")]
    pub pattern: String,
    pub verdict: Option<String>,
    pub hops: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatExpect {
    pub before: String,
    pub after: String,
    pub at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropExpect {
    pub point: Option<String>,
    pub by: Option<String>,
    pub reason: Option<String>,
    /// True (default): at least one such drop; false: none may happen.
    #[serde(default = "yes")]
    pub expected: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyExpect {
    pub from: String,
    pub to: String,
    pub p50_us_max: Option<f64>,
    pub p90_us_max: Option<f64>,
    pub p99_us_max: Option<f64>,
    pub max_us_max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthExpect {
    pub events_lost: Option<u64>,
    pub buffers_lost: Option<u64>,
    pub bytes_skipped: Option<u64>,
    /// The number of warnings at most.
    pub warnings_max: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Expectations {
    pub fn parse(text: &str) -> Result<Expectations, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn from_file(path: &Path) -> Result<Expectations, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The outcome of one assertion.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    /// What was asserted, e.g. `nat tcp 92.234.68.72:53711 -> 10.0.0.4:80 => ...`.
    pub assertion: String,
    pub expected: String,
    pub observed: String,
    pub pass: bool,
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A tuple pattern: `proto src[:port] -> dst[:port]`.
#[derive(Debug, Clone)]
struct TuplePattern {
    proto: String,
    src: String,
    dst: String,
}

fn endpoint(addr: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    }
}

impl TuplePattern {
    fn parse(s: &str) -> Result<TuplePattern, String> {
        let (proto, rest) = s.trim().split_once(' ').ok_or_else(|| format!("'{s}': expected PROTO SRC -> DST"))?;
        let (src, dst) = rest.split_once("->").ok_or_else(|| format!("'{s}': expected PROTO SRC -> DST"))?;
        Ok(TuplePattern {
            proto: proto.trim().to_lowercase(),
            src: src.trim().to_string(),
            dst: dst.trim().to_string(),
        })
    }

    /// An endpoint pattern without a port matches any port.
    fn side(p: &str, addr: &str, port: Option<u16>) -> bool {
        glob(p, &endpoint(addr, port)) || (!p.contains(':') && glob(p, addr))
    }

    fn matches_oriented(&self, t: &TupleRow) -> bool {
        glob(&self.proto, &t.proto.to_string())
            && Self::side(&self.src, &t.src.to_string(), t.src_port)
            && Self::side(&self.dst, &t.dst.to_string(), t.dst_port)
    }

    fn matches(&self, t: &TupleRow) -> bool {
        let rev = TupleRow { proto: t.proto, src: t.dst, src_port: t.dst_port, dst: t.src, dst_port: t.src_port };
        self.matches_oriented(t) || self.matches_oriented(&rev)
    }
}

fn flow_tuple(f: &FlowRow) -> TupleRow {
    TupleRow { proto: f.proto, src: f.src, src_port: f.src_port, dst: f.dst, dst_port: f.dst_port }
}

fn tuple_text(t: &TupleRow) -> String {
    format!("{} {} -> {}", t.proto, endpoint(&t.src.to_string(), t.src_port), endpoint(&t.dst.to_string(), t.dst_port))
}

/// Evaluates every expectation against the report.
pub fn evaluate(e: &Expectations, r: &Report) -> Result<Vec<Outcome>, String> {
    let mut out = Vec::new();
    for f in &e.flow {
        let pat = TuplePattern::parse(&f.pattern)?;
        let found: Vec<FlowRow> = r
            .flows
            .iter()
            .filter(|fl| pat.matches(&flow_tuple(fl)))
            .filter(|fl| f.vni.is_none_or(|v| fl.tunnel.as_ref().map(|t| t.vni) == Some(v)))
            .collect();
        let vni = f.vni.map(|v| format!(" in VNI {v}")).unwrap_or_default();
        let observed = match found.first() {
            Some(fl) => format!(
                "flow {} {}{} ({} + {} packets)",
                fl.id,
                tuple_text(&flow_tuple(fl)),
                fl.tunnel.as_ref().map(|t| format!(" in VNI {}", t.vni)).unwrap_or_default(),
                fl.packets_fwd,
                fl.packets_rev
            ),
            None => "no such flow".to_string(),
        };
        out.push(Outcome {
            assertion: format!("flow {}{vni}", f.pattern),
            expected: if f.present { "present".into() } else { "absent".into() },
            observed,
            pass: found.is_empty() != f.present,
        });
    }
    for p in &e.path {
        let pat = TuplePattern::parse(&p.pattern)?;
        let paths: Vec<_> = r
            .paths
            .iter()
            .filter(|path| path.hops.iter().filter_map(|h| h.tuple.as_ref()).any(|t| pat.matches_oriented(t)))
            .collect();
        let mut expected = Vec::new();
        if let Some(v) = &p.verdict {
            expected.push(format!("verdict {v}"));
        }
        if let Some(h) = &p.hops {
            expected.push(format!("hops {}", h.join(" > ")));
        }
        let bad = paths.iter().find(|path| {
            p.verdict.as_ref().is_some_and(|v| v != path.verdict)
                || p.hops.as_ref().is_some_and(|h| h.iter().map(String::as_str).ne(path.hops.iter().map(|x| x.kind)))
        });
        let describe = |path: &crate::report::PathRow| {
            format!(
                "verdict {}, hops {}",
                path.verdict,
                path.hops.iter().map(|h| h.kind).collect::<Vec<_>>().join(" > ")
            )
        };
        let observed = match (paths.len(), bad) {
            (0, _) => "no packet path matches".to_string(),
            (n, Some(b)) => format!(
                "{} of {n} paths differ; first: {}",
                paths
                    .iter()
                    .filter(|x| {
                        p.verdict.as_ref().is_some_and(|v| v != x.verdict)
                            || p.hops
                                .as_ref()
                                .is_some_and(|h| h.iter().map(String::as_str).ne(x.hops.iter().map(|y| y.kind)))
                    })
                    .count(),
                describe(b)
            ),
            (n, None) => format!("{n} paths: {}", describe(paths[0])),
        };
        out.push(Outcome {
            assertion: format!("path {}", p.pattern),
            expected: expected.join(", "),
            observed,
            pass: !paths.is_empty() && bad.is_none(),
        });
    }
    for n in &e.nat {
        let (before, after) = (TuplePattern::parse(&n.before)?, TuplePattern::parse(&n.after)?);
        let hits: Vec<_> = r
            .nat
            .iter()
            .filter(|x| before.matches_oriented(&x.before) && after.matches_oriented(&x.after))
            .filter(|x| n.at.as_ref().is_none_or(|at| glob(at, &x.point)))
            .collect();
        // What the switch did instead, for the message.
        let instead: Vec<String> = r
            .nat
            .iter()
            .filter(|x| before.matches_oriented(&x.before))
            .map(|x| format!("{} => {} at {}", tuple_text(&x.before), tuple_text(&x.after), x.point))
            .collect();
        let observed = match (hits.first(), instead.first()) {
            (Some(h), _) => {
                format!("{} => {} at {} ({} packets)", tuple_text(&h.before), tuple_text(&h.after), h.point, h.packets)
            }
            (None, Some(i)) => i.clone(),
            (None, None) => "no rewrite of such packets".to_string(),
        };
        out.push(Outcome {
            assertion: format!("nat {} => {}", n.before, n.after),
            expected: n.at.as_ref().map(|a| format!("at {a}")).unwrap_or_else(|| "rewritten".into()),
            observed,
            pass: !hits.is_empty(),
        });
    }
    for d in &e.drop {
        let hits: Vec<_> = r
            .drops
            .iter()
            .filter(|x| {
                d.point.as_ref().is_none_or(|p| glob(p, &x.point))
                    && d.by.as_ref().is_none_or(|b| glob(b, &x.by))
                    && d.reason.as_ref().is_none_or(|re| glob(re, &x.reason))
            })
            .collect();
        let mut what = Vec::new();
        for (k, v) in [("point", &d.point), ("by", &d.by), ("reason", &d.reason)] {
            if let Some(v) = v {
                what.push(format!("{k} '{v}'"));
            }
        }
        let observed = match hits.first() {
            Some(h) => format!("{} drops; first at {} by {}: {}", hits.len(), h.point, h.by, h.reason),
            None => format!("no such drop ({} drops in all)", r.drops.len()),
        };
        out.push(Outcome {
            assertion: format!("drop {}", what.join(" ")),
            expected: if d.expected { "dropped".into() } else { "never dropped".into() },
            observed,
            pass: hits.is_empty() != d.expected,
        });
    }
    for l in &e.latency {
        let row = r.latency.iter().find(|x| glob(&l.from, &x.from) && glob(&l.to, &x.to));
        for (name, bound, get) in [
            ("p50", l.p50_us_max, (|x: &crate::report::HopLatencyRow| x.p50_us) as fn(&_) -> f64),
            ("p90", l.p90_us_max, |x| x.p90_us),
            ("p99", l.p99_us_max, |x| x.p99_us),
            ("max", l.max_us_max, |x| x.max_us),
        ] {
            let Some(bound) = bound else { continue };
            let (observed, pass) = match row {
                Some(x) => (format!("{:.1} µs over {} samples", get(x), x.count), get(x) <= bound),
                None => ("no such hop".to_string(), false),
            };
            out.push(Outcome {
                assertion: format!("latency {} {} -> {}", name, l.from, l.to),
                expected: format!("at most {bound} µs"),
                observed,
                pass,
            });
        }
    }
    if let Some(h) = &e.health {
        let checks = [
            ("events lost", h.events_lost, r.health.events_lost),
            ("buffers lost", h.buffers_lost, r.health.buffers_lost),
            ("bytes skipped", h.bytes_skipped, r.health.bytes_skipped),
        ];
        for (name, want, got) in checks {
            if let Some(want) = want {
                out.push(Outcome {
                    assertion: format!("health {name}"),
                    expected: format!("{want}"),
                    observed: format!("{got}"),
                    pass: got == want,
                });
            }
        }
        if let Some(max) = h.warnings_max {
            let n = r.health.warnings.len();
            out.push(Outcome {
                assertion: "health warnings".into(),
                expected: format!("at most {max}"),
                observed: match r.health.warnings.first() {
                    Some(w) => format!("{n}; first: {w}"),
                    None => "0".into(),
                },
                pass: n <= max,
            });
        }
    }
    Ok(out)
}

/// JUnit XML: one test case per assertion, failures with the observed value.
pub fn junit(outcomes: &[Outcome], suite: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let failures = outcomes.iter().filter(|o| !o.pass).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<testsuites tests=\"{}\" failures=\"{failures}\">", outcomes.len());
    let _ = writeln!(x, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">", esc(suite), outcomes.len());
    for o in outcomes {
        let _ = write!(x, "    <testcase classname=\"{}\" name=\"{}\"", esc(suite), esc(&o.assertion));
        if o.pass {
            x.push_str("/>\n");
        } else {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"expected {}, observed {}\"/>\n    </testcase>",
                esc(&o.expected),
                esc(&o.observed)
            );
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Proto;
    use crate::report::{Address, ProtoName};

    #[test]
    fn globbing() {
        assert!(glob("received@*", "received@xio0654"));
        assert!(glob("*VFP*", "Outgoing packet dropped by VFP"));
        assert!(!glob("tcp", "udp"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(!glob("a*b*c", "aXXbY"));
    }

    #[test]
    fn tuple_patterns_match_either_direction() {
        let t = TupleRow {
            proto: ProtoName(Proto::Tcp),
            src: Address("10.0.0.1".parse().unwrap()),
            src_port: Some(5),
            dst: Address("10.0.0.2".parse().unwrap()),
            dst_port: Some(80),
        };
        let p = TuplePattern::parse("tcp * -> 10.0.0.2:80").unwrap();
        assert!(p.matches(&t));
        assert!(TuplePattern::parse("tcp 10.0.0.2:80 -> 10.0.0.1").unwrap().matches(&t));
        assert!(!TuplePattern::parse("udp * -> *").unwrap().matches(&t));
        assert!(TuplePattern::parse("nonsense").is_err());
    }
}
