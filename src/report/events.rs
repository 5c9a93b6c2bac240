//! `overlay-trace events`: every event of a capture, one line each — text
//! in the spirit of `pktmon etl2txt`, or JSON lines with the keys of
//! report-schema.md ("Events, JSON lines").

use serde_json::{json, Map, Value};

use crate::capture::etl::manifest::{fields_json, Manifest};
use crate::capture::etl::providers::{self, pktmon, vmswitch};
use crate::capture::etl::{EtlRecord, HeaderKind};
use crate::event::{CapturePoint, Event, EventKind, PacketRecord};
use crate::packet::{self, DecodeConfig, Decoded};

/// What the renderer needs besides the event itself.
pub struct Context<'a> {
    pub capture: usize,
    pub points: &'a [CapturePoint],
    pub os_build: u32,
    pub decode: &'a DecodeConfig,
    /// Manifests given with `--manifest`, for providers we do not decode ourselves.
    pub manifest: Option<&'a Manifest>,
}

fn provider_label(rec: &EtlRecord, manifest: Option<&Manifest>) -> String {
    match (&rec.provider, rec.header_kind) {
        (Some(g), _) => providers::provider_name(g)
            .or_else(|| manifest.and_then(|m| m.provider_name(g)))
            .map(str::to_string)
            .unwrap_or_else(|| g.to_string()),
        (None, HeaderKind::Message) => "WPP".to_string(),
        (None, _) => "Kernel".to_string(),
    }
}

fn summary(d: &Decoded) -> String {
    let Some(inner) = d.inner else {
        return match d.stopped {
            Some(packet::Stop::UnsupportedLink(n)) => format!("link type {n}"),
            Some(packet::Stop::Truncated(h)) => format!("truncated in the {h}"),
            _ => "no IP".to_string(),
        };
    };
    let mut s = inner.to_string();
    for t in d.tunnels() {
        s.push_str(&format!(" in {} {} {}", t.kind.name(), t.vni, t.outer));
    }
    s
}

fn nbl_text(ev: &vmswitch::NblEvent) -> String {
    use vmswitch::NblEvent::*;
    let nbl = |n: &Option<u64>| n.map(|p| format!("NBL {p:#018X}")).unwrap_or_else(|| "NBL".to_string());
    let nic = |n: &vmswitch::Named| format!("Nic {} (Friendly Name: {})", n.id, n.name);
    let sw = |n: &vmswitch::Named| format!("switch {} (Friendly Name: {})", n.id, n.name);
    match ev {
        QosDrop { reason_code } => format!("Qos Packet dropped, reason={reason_code}"),
        IncomingDrop { nic: n, switch, reason_code } => format!(
            "NBL originating from {} was dropped in {}, Reason {}",
            nic(n),
            sw(switch),
            vmswitch::drop_reason(*reason_code)
        ),
        OutgoingDrop { nic: n, switch, reason_code } => format!(
            "NBL destined to {} was dropped in {}, Reason {}",
            nic(n),
            sw(switch),
            vmswitch::drop_reason(*reason_code)
        ),
        Receive { nic: n, switch, nbl: p } => format!("{} received from {} in {}", nbl(p), nic(n), sw(switch)),
        Route { from, to, switch, nbl: p } => {
            format!("{} routed from {} to {} on {}", nbl(p), nic(from), nic(to), sw(switch))
        }
        Deliver { nic: n, switch, nbl: p } => format!("{} delivered to {} in {}", nbl(p), nic(n), sw(switch)),
        Veto { extension, from, to, switch } => format!(
            "Switch extension {extension} has vetoed delivery of NBL from {} to {} on {}",
            nic(from),
            nic(to),
            sw(switch)
        ),
        ExtensionDrop { nic: n, switch, extension, reason } => format!(
            "NBLs were dropped by extension {} (Friendly Name: {}) in {}. Source {}, Reason {reason}",
            extension.id,
            extension.name,
            sw(switch),
            nic(n)
        ),
    }
}

fn pktmon_text(ev: &pktmon::PktmonEvent<'_>) -> String {
    match ev {
        pktmon::PktmonEvent::Component(c) => format!(
            "Component {}, Type {}, Name {}, {}",
            c.id,
            pktmon::component_type_name(c.kind),
            c.name,
            c.description
        ),
        pktmon::PktmonEvent::Property(p) => {
            format!("Property: Component {}, type {} = {}", p.component, p.kind, p.value)
        }
        pktmon::PktmonEvent::Counters(c) => match &c.edge {
            Some((edge, name)) => format!(
                "Flow Counters: Component {}, Edge {} ({}), In {} packets {} bytes, Out {} packets {} bytes",
                c.component, edge, name, c.packets_in, c.bytes_in, c.packets_out, c.bytes_out
            ),
            None => format!(
                "Drop Counters: Component {}, In {} packets {} bytes, Out {} packets {} bytes",
                c.component, c.packets_in, c.bytes_in, c.packets_out, c.bytes_out
            ),
        },
        pktmon::PktmonEvent::Parsed(p) => format!(
            "PktGroupId {}, PktNumber {}, Appearance {}, Direction {} , Component {}, Edge {}, {} {}:{} > {}:{}",
            p.at.group,
            p.at.number,
            p.at.appearance,
            pktmon::direction_name(p.at.direction),
            p.at.component,
            p.at.edge,
            p.protocol,
            p.src,
            p.src_port,
            p.dst,
            p.dst_port
        ),
        pktmon::PktmonEvent::Packet(_) => String::new(),
    }
}

fn packet_text(p: &PacketRecord<'_>, rec: Option<&EtlRecord>, ctx: &Context<'_>, point: &str) -> String {
    let d = packet::decode(p.link, p.data, ctx.decode);
    if let Some(a) = &p.meta.pktmon {
        let mut s = format!(
            "PktGroupId {}, PktNumber {}, Appearance {}, Direction {} , Type {} , Component {}, Edge {}, Filter {}, OriginalSize {}, LoggedSize {}",
            a.group,
            a.number,
            a.appearance,
            pktmon::direction_name(a.direction),
            pktmon::packet_type_name(a.packet_type),
            a.component,
            a.edge,
            a.filter,
            p.orig_len,
            p.data.len()
        );
        if p.meta.dropped {
            s.push_str(&format!(
                ", DropReason {}, DropLocation {:#X}",
                pktmon::drop_reason(a.drop_reason, ctx.os_build),
                a.drop_location
            ));
        }
        return format!("{s} | {}", summary(&d));
    }
    let dir = match p.meta.direction {
        crate::event::Direction::Inbound => "in",
        crate::event::Direction::Outbound => "out",
        crate::event::Direction::Unknown => "-",
    };
    let what = if rec.is_some() { "Packet" } else { "Frame" };
    format!("{what} at {point} {dir}, {} of {} bytes | {}", p.data.len(), p.orig_len, summary(&d))
}

/// One line of text for an event.
pub fn text_line(ev: &Event<'_>, ctx: &Context<'_>) -> String {
    let point = ctx.points.get(ev.point as usize).map(|p| p.name.as_str()).unwrap_or("-");
    let body = match &ev.kind {
        EventKind::Packet(p) => packet_text(p, ev.etw, ctx, point),
        EventKind::Nbl(n) => nbl_text(n),
        EventKind::Pktmon(p) => pktmon_text(p),
        EventKind::Other => match ev.etw {
            Some(r) if ctx.manifest.and_then(|m| m.decode(r)).is_some() => {
                let d = ctx.manifest.and_then(|m| m.decode(r)).expect("decoded just above");
                // One line per event: control characters in values are escaped.
                let fields: Vec<String> =
                    d.fields.iter().map(|(k, v)| format!("{k}: {}", v.to_string().escape_default())).collect();
                let name = d.event_name.clone().unwrap_or_else(|| format!("Event {}", r.id));
                let tail = if d.complete {
                    String::new()
                } else {
                    format!(" (incomplete: {})", d.stopped.unwrap_or_default())
                };
                format!("{name}: {}{tail}", fields.join(", "))
            }
            Some(r) => match r.kernel_group_type {
                Some((g, t)) => format!("group {g} type {t}, {} bytes", r.user_data.len()),
                None => format!(
                    "Event {} version {} opcode {} level {}, {} bytes",
                    r.id,
                    r.version,
                    r.opcode,
                    r.level,
                    r.user_data.len()
                ),
            },
            None => String::new(),
        },
    };
    match ev.etw {
        Some(r) => {
            format!("[{}]{:04X}.{:04X}::{} [{}] {}", r.cpu, r.pid, r.tid, ev.ts, provider_label(r, ctx.manifest), body)
        }
        None => format!("{} {}", ev.ts, body),
    }
}

fn kind_name(ev: &Event<'_>) -> &'static str {
    match &ev.kind {
        EventKind::Packet(p) if p.meta.dropped => "drop",
        EventKind::Packet(_) => "packet",
        EventKind::Nbl(
            vmswitch::NblEvent::IncomingDrop { .. }
            | vmswitch::NblEvent::OutgoingDrop { .. }
            | vmswitch::NblEvent::ExtensionDrop { .. }
            | vmswitch::NblEvent::QosDrop { .. },
        ) => "drop",
        EventKind::Nbl(_) => "nbl",
        EventKind::Pktmon(pktmon::PktmonEvent::Component(_) | pktmon::PktmonEvent::Property(_)) => "component",
        EventKind::Pktmon(pktmon::PktmonEvent::Counters(_)) => "counter",
        EventKind::Pktmon(_) => "packet",
        EventKind::Other => match ev.etw {
            Some(r) if r.kernel_group_type == Some((0, 0)) => "header",
            _ => "other",
        },
    }
}

fn named(n: &vmswitch::Named) -> (Value, Value) {
    (json!(n.id), json!(n.name))
}

/// One JSON object for an event.
pub fn json_line(ev: &Event<'_>, ctx: &Context<'_>) -> String {
    let mut m = Map::new();
    m.insert("ts".into(), json!(ev.ts));
    m.insert("capture".into(), json!(ctx.capture));
    let r = ev.etw;
    m.insert("provider".into(), json!(r.map(|r| provider_label(r, ctx.manifest))));
    m.insert("provider_guid".into(), json!(r.and_then(|r| r.provider).map(|g| g.to_string())));
    m.insert("id".into(), json!(r.map(|r| r.id)));
    m.insert("version".into(), json!(r.map(|r| r.version)));
    m.insert("opcode".into(), json!(r.map(|r| r.opcode)));
    m.insert("level".into(), json!(r.map(|r| r.level)));
    m.insert("cpu".into(), json!(r.map(|r| r.cpu)));
    m.insert("pid".into(), json!(r.map(|r| r.pid)));
    m.insert("tid".into(), json!(r.map(|r| r.tid)));
    m.insert("kind".into(), json!(kind_name(ev)));
    m.insert("offset".into(), json!(ev.offset));
    match &ev.kind {
        EventKind::Packet(p) => {
            m.insert("point".into(), json!(ctx.points.get(ev.point as usize).map(|p| p.name.clone())));
            m.insert("link_type".into(), json!(p.link.0));
            m.insert("original_size".into(), json!(p.orig_len));
            m.insert("logged_size".into(), json!(p.data.len()));
            m.insert("direction".into(), json!(p.meta.direction));
            let d = packet::decode(p.link, p.data, ctx.decode);
            m.insert("summary".into(), json!(summary(&d)));
            if let Some(a) = &p.meta.pktmon {
                m.insert("group".into(), json!(a.group));
                m.insert("number".into(), json!(a.number));
                m.insert("appearance".into(), json!(a.appearance));
                m.insert("direction".into(), json!(pktmon::direction_name(a.direction)));
                m.insert("packet_type".into(), json!(pktmon::packet_type_name(a.packet_type)));
                m.insert("component".into(), json!(a.component));
                m.insert("edge".into(), json!(a.edge));
                m.insert("filter".into(), json!(a.filter));
                if p.meta.dropped {
                    m.insert("drop_reason".into(), json!(pktmon::drop_reason(a.drop_reason, ctx.os_build)));
                    m.insert("drop_reason_code".into(), json!(a.drop_reason));
                    m.insert("drop_location".into(), json!(a.drop_location));
                }
            }
            if let Some(port) = &p.meta.switch_port {
                m.insert("source_port_id".into(), json!(port.source_port_id));
                m.insert("source_port_name".into(), json!(port.source_port_name));
                m.insert("source_nic_name".into(), json!(port.source_nic_name));
                m.insert("source_nic_type".into(), json!(port.source_nic_type));
                m.insert("vlan_id".into(), json!(port.vlan_id));
            }
        }
        EventKind::Nbl(n) => {
            use vmswitch::NblEvent::*;
            m.insert("nbl".into(), json!(n.nbl().map(|p| format!("{p:#018X}"))));
            if let Some(sw) = n.switch() {
                let (id, name) = named(sw);
                m.insert("switch".into(), id);
                m.insert("switch_name".into(), name);
            }
            let (nic, to, reason, code): (
                Option<&vmswitch::Named>,
                Option<&vmswitch::Named>,
                Option<String>,
                Option<u32>,
            ) = match n {
                QosDrop { reason_code } => (None, None, None, Some(*reason_code)),
                IncomingDrop { nic, reason_code, .. } | OutgoingDrop { nic, reason_code, .. } => {
                    (Some(nic), None, Some(vmswitch::drop_reason(*reason_code).to_string()), Some(*reason_code))
                }
                Receive { nic, .. } | Deliver { nic, .. } => (Some(nic), None, None, None),
                Route { from, to, .. } | Veto { from, to, .. } => (Some(from), Some(to), None, None),
                ExtensionDrop { nic, extension, reason, .. } => {
                    m.insert("extension".into(), json!(extension.id));
                    m.insert("extension_name".into(), json!(extension.name));
                    (Some(nic), None, Some(reason.to_string()), None)
                }
            };
            if let Some(n) = nic {
                m.insert("nic".into(), json!(n.id));
                m.insert("nic_name".into(), json!(n.name));
            }
            if let Some(t) = to {
                m.insert("to_nic".into(), json!(t.id));
                m.insert("to_nic_name".into(), json!(t.name));
            }
            if reason.is_some() || code.is_some() {
                m.insert("reason".into(), json!(reason));
                m.insert("reason_code".into(), json!(code));
            }
            m.insert("message".into(), json!(nbl_text(n)));
        }
        EventKind::Pktmon(p) => {
            m.insert("message".into(), json!(pktmon_text(p)));
        }
        EventKind::Other => {
            if let Some(d) = r.and_then(|r| ctx.manifest.and_then(|m| m.decode(r))) {
                m.insert("event".into(), json!(d.event_name));
                if let Value::Object(fields) = fields_json(&d.fields) {
                    for (k, v) in fields {
                        m.entry(k).or_insert(v);
                    }
                }
                m.insert("complete".into(), json!(d.complete));
            }
            if let Some(r) = r {
                if let Some((g, t)) = r.kernel_group_type {
                    m.insert("group".into(), json!(g));
                    m.insert("type".into(), json!(t));
                }
                m.insert("payload_size".into(), json!(r.user_data.len()));
            }
        }
    }
    Value::Object(m).to_string()
}
