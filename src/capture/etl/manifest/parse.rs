//! Reading manifest XML into providers, events and templates.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use roxmltree::{Document, Node};

use super::{EventDef, Field, FieldKind, InType, Len, Manifest, ManifestError, OutType, Provider, Template, ValueMap};
use crate::capture::etl::guid::Guid;

/// Deepest `<struct>` nesting accepted.
const MAX_STRUCT_DEPTH: usize = 8;

/// Every provider of `doc`.
pub(crate) fn manifest(doc: &Document<'_>) -> Result<Manifest, ManifestError> {
    Parser::new(doc).manifest()
}

/// The text of a manifest file: UTF-16 by its byte-order mark, else UTF-8
/// (invalid sequences replaced).
pub(crate) fn text_of(bytes: &[u8]) -> String {
    let utf16 = |b: &[u8], be: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|p| if be { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A number as manifests write them: decimal or `0x` hex.
fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The part after the namespace prefix (`win:UInt32` -> `UInt32`).
fn unprefixed(s: &str) -> &str {
    s.trim().rsplit(':').next().unwrap_or("")
}

fn in_type(s: &str) -> InType {
    let name = unprefixed(s);
    if let Ok(n) = name.parse::<u32>() {
        return match n {
            1 => InType::UnicodeString,
            2 => InType::AnsiString,
            3 => InType::Int8,
            4 => InType::UInt8,
            5 => InType::Int16,
            6 => InType::UInt16,
            7 => InType::Int32,
            8 => InType::UInt32,
            9 => InType::Int64,
            10 => InType::UInt64,
            11 => InType::Float,
            12 => InType::Double,
            13 => InType::Boolean,
            14 => InType::Binary,
            15 => InType::Guid,
            16 => InType::Pointer,
            17 => InType::FileTime,
            18 => InType::SystemTime,
            19 => InType::Sid,
            20 => InType::HexInt32,
            21 => InType::HexInt64,
            22 | 300 => InType::CountedUnicodeString,
            23 | 301 => InType::CountedAnsiString,
            25 => InType::CountedBinary,
            302 => InType::ReversedCountedUnicodeString,
            303 => InType::ReversedCountedAnsiString,
            304 => InType::NonNulUnicodeString,
            305 => InType::NonNulAnsiString,
            306 => InType::UnicodeChar,
            307 => InType::AnsiChar,
            308 => InType::SizeT,
            309 => InType::HexDump,
            310 => InType::WbemSid,
            _ => InType::Unknown(s.trim().to_string()),
        };
    }
    match name.to_ascii_lowercase().as_str() {
        "unicodestring" | "wstring" => InType::UnicodeString,
        "ansistring" => InType::AnsiString,
        "int8" | "sint8" => InType::Int8,
        "uint8" => InType::UInt8,
        "int16" | "sint16" => InType::Int16,
        "uint16" => InType::UInt16,
        "int32" | "sint32" => InType::Int32,
        "uint32" => InType::UInt32,
        "int64" | "sint64" => InType::Int64,
        "uint64" => InType::UInt64,
        "hexint32" => InType::HexInt32,
        "hexint64" => InType::HexInt64,
        "float" => InType::Float,
        "double" => InType::Double,
        "boolean" => InType::Boolean,
        "binary" => InType::Binary,
        "guid" => InType::Guid,
        "pointer" => InType::Pointer,
        "filetime" => InType::FileTime,
        "systemtime" => InType::SystemTime,
        "sid" => InType::Sid,
        "sizet" => InType::SizeT,
        "countedunicodestring" | "countedstring" | "countedutf16string" => InType::CountedUnicodeString,
        "countedansistring" | "countedmbcsstring" => InType::CountedAnsiString,
        "countedbinary" => InType::CountedBinary,
        "wchar" | "unicodechar" => InType::UnicodeChar,
        "ansichar" => InType::AnsiChar,
        "ipaddrv4" => InType::IpAddrV4,
        "ipaddrv6" => InType::IpAddrV6,
        _ => InType::Unknown(s.trim().to_string()),
    }
}

fn out_type(s: Option<&str>) -> OutType {
    match s.map(|s| unprefixed(s).to_ascii_lowercase()).as_deref() {
        Some("ipv4") => OutType::Ipv4,
        Some("ipv6") => OutType::Ipv6,
        Some("port") => OutType::Port,
        Some("socketaddress") => OutType::SocketAddress,
        Some("boolean") => OutType::Boolean,
        Some("utf8") | Some("xml") | Some("json") => OutType::Utf8,
        _ => OutType::Default,
    }
}

/// Opcode names the schema defines (`win:Info` is left out of event names).
fn standard_opcode(v: u64) -> Option<&'static str> {
    Some(match v {
        0 => "win:Info",
        1 => "win:Start",
        2 => "win:Stop",
        3 => "win:DC_Start",
        4 => "win:DC_Stop",
        5 => "win:Extension",
        6 => "win:Reply",
        7 => "win:Resume",
        8 => "win:Suspend",
        9 => "win:Send",
        240 => "win:Receive",
        _ => return None,
    })
}

struct Parser<'a, 'i> {
    doc: &'a Document<'i>,
    strings: HashMap<&'a str, &'a str>,
}

fn elements<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.descendants().filter(move |n| n.is_element() && n.tag_name().name() == name)
}

impl<'a, 'i> Parser<'a, 'i> {
    fn new(doc: &'a Document<'i>) -> Self {
        // Message strings: every stringTable; en-US wins over other cultures.
        let mut strings = HashMap::new();
        for res in elements(doc.root(), "resources") {
            let en = res.attribute("culture").is_some_and(|c| c.eq_ignore_ascii_case("en-US"));
            for s in elements(res, "string") {
                if let (Some(id), Some(v)) = (s.attribute("id"), s.attribute("value")) {
                    if en {
                        strings.insert(id, v);
                    } else {
                        strings.entry(id).or_insert(v);
                    }
                }
            }
        }
        Parser { doc, strings }
    }

    fn invalid(&self, node: Node<'_, '_>, message: impl Into<String>) -> ManifestError {
        let pos = self.doc.text_pos_at(node.range().start);
        ManifestError::Invalid { line: pos.row, column: pos.col, message: message.into() }
    }

    /// `$(string.ID)` through the string table (the id itself when the
    /// table lacks it); anything else as written.
    fn message(&self, m: &str) -> String {
        let m = m.trim();
        match m.strip_prefix("$(string.").and_then(|r| r.strip_suffix(')')) {
            Some(id) => self.strings.get(id).map_or(id, |s| s).trim().to_string(),
            None => m.to_string(),
        }
    }

    fn manifest(&self) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        for node in elements(self.doc.root(), "provider") {
            let (guid, p) = self.provider(node)?;
            m.merge(Manifest { providers: HashMap::from([(guid, p)]) });
        }
        if m.providers.is_empty() {
            return Err(self.invalid(self.doc.root_element(), "no <provider> element: not an instrumentation manifest"));
        }
        Ok(m)
    }

    fn provider(&self, node: Node<'a, 'i>) -> Result<(Guid, Provider), ManifestError> {
        let name = node.attribute("name").unwrap_or("").to_string();
        let guid_text = node.attribute("guid").ok_or_else(|| self.invalid(node, "provider without guid"))?;
        let guid =
            Guid::parse(guid_text).ok_or_else(|| self.invalid(node, format!("bad provider guid {guid_text:?}")))?;

        let mut maps: HashMap<&str, Arc<ValueMap>> = HashMap::new();
        for kind in ["valueMap", "bitMap"] {
            for mnode in elements(node, kind) {
                let Some(mname) = mnode.attribute("name") else { continue };
                let mut entries = Vec::new();
                for e in elements(mnode, "map") {
                    let v = e.attribute("value").unwrap_or("");
                    let v = parse_num(v).ok_or_else(|| self.invalid(e, format!("bad map value {v:?}")))?;
                    entries.push((v, self.message(e.attribute("message").unwrap_or(""))));
                }
                maps.entry(mname).or_insert_with(|| Arc::new(ValueMap { bits: kind == "bitMap", entries }));
            }
        }

        let mut templates: HashMap<&str, Arc<Template>> = HashMap::new();
        for t in elements(node, "template") {
            let Some(tid) = t.attribute("tid") else { continue };
            if templates.contains_key(tid) {
                continue;
            }
            let mut scope = Vec::new();
            let fields = self.fields(t, &maps, &mut scope, 0)?;
            templates.insert(tid, Arc::new(Template { fields }));
        }

        // Task names by value, opcode names by (task, value) and value.
        let mut tasks: HashMap<u64, &str> = HashMap::new();
        let mut opcodes: HashMap<(Option<&str>, u64), &str> = HashMap::new();
        for t in elements(node, "task") {
            let tname = t.attribute("name");
            if let (Some(n), Some(v)) = (tname, t.attribute("value").and_then(parse_num)) {
                tasks.insert(v, n);
            }
            for o in elements(t, "opcode") {
                if let (Some(n), Some(v)) = (o.attribute("name"), o.attribute("value").and_then(parse_num)) {
                    opcodes.insert((tname, v), n);
                }
            }
        }
        for o in elements(node, "opcode") {
            let in_task = o.ancestors().any(|a| a.tag_name().name() == "task");
            if let (false, Some(n), Some(v)) = (in_task, o.attribute("name"), o.attribute("value").and_then(parse_num))
            {
                opcodes.insert((None, v), n);
            }
        }

        let empty = Arc::new(Template::default());
        let mut events: HashMap<u16, BTreeMap<u16, Arc<EventDef>>> = HashMap::new();
        for e in elements(node, "event") {
            let v = e.attribute("value").unwrap_or("");
            let id = parse_num(v)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| self.invalid(e, format!("bad event value {v:?}")))?;
            let ver = e.attribute("version").unwrap_or("0");
            let version = parse_num(ver)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| self.invalid(e, format!("bad event version {ver:?}")))?;
            let template = match e.attribute("template") {
                None | Some("") => empty.clone(),
                Some(tid) => templates.get(tid).cloned().ok_or_else(|| {
                    self.invalid(e, format!("event {id} names template {tid:?}, which is not defined"))
                })?,
            };
            let name = self.event_name(e, &tasks, &opcodes);
            events.entry(id).or_default().entry(version).or_insert_with(|| Arc::new(EventDef { name, template }));
        }
        Ok((guid, Provider { name, events }))
    }

    fn event_name(
        &self,
        e: Node<'_, '_>,
        tasks: &HashMap<u64, &str>,
        opcodes: &HashMap<(Option<&str>, u64), &str>,
    ) -> Option<String> {
        if let Some(s) = e.attribute("symbol").filter(|s| !s.trim().is_empty()) {
            return Some(s.trim().to_string());
        }
        let task = e.attribute("task").map(str::trim).filter(|t| !t.is_empty()).map(|t| match parse_num(t) {
            Some(0) => String::new(),
            Some(v) => tasks.get(&v).map_or_else(|| t.to_string(), |s| s.to_string()),
            None => t.to_string(),
        });
        let task = task.filter(|t| !t.is_empty());
        let opcode = e.attribute("opcode").map(str::trim).filter(|o| !o.is_empty()).map(|o| match parse_num(o) {
            Some(v) => opcodes
                .get(&(task.as_deref(), v))
                .or_else(|| opcodes.get(&(None, v)))
                .map(|s| s.to_string())
                .or_else(|| standard_opcode(v).map(str::to_string))
                .unwrap_or_else(|| o.to_string()),
            None => o.to_string(),
        });
        let opcode = opcode.filter(|o| o != "win:Info").map(|o| o.strip_prefix("win:").unwrap_or(&o).to_string());
        match (task, opcode) {
            (Some(t), Some(o)) => Some(format!("{t}/{o}")),
            (Some(t), None) => Some(t),
            (None, Some(o)) => Some(o),
            (None, None) => None,
        }
    }

    /// The `<data>` and `<struct>` children of `parent`. `scope` holds the
    /// names a `length`/`count` may refer to: earlier fields here and in
    /// the enclosing structs.
    fn fields(
        &self,
        parent: Node<'a, 'i>,
        maps: &HashMap<&str, Arc<ValueMap>>,
        scope: &mut Vec<String>,
        depth: usize,
    ) -> Result<Vec<Field>, ManifestError> {
        let mut out = Vec::new();
        let scope_start = scope.len();
        for n in parent.children().filter(Node::is_element) {
            let kind_name = n.tag_name().name();
            if kind_name != "data" && kind_name != "struct" {
                continue;
            }
            let name = n.attribute("name").unwrap_or("").to_string();
            let count = self.len_attr(n, "count", scope);
            let kind = if kind_name == "struct" {
                if depth >= MAX_STRUCT_DEPTH {
                    return Err(self.invalid(n, format!("structs nested deeper than {MAX_STRUCT_DEPTH}")));
                }
                FieldKind::Struct(self.fields(n, maps, scope, depth + 1)?)
            } else {
                let it =
                    n.attribute("inType").ok_or_else(|| self.invalid(n, format!("data {name:?} without inType")))?;
                let map = match n.attribute("map") {
                    None => None,
                    Some(m) => Some(maps.get(m).cloned().ok_or_else(|| {
                        self.invalid(n, format!("data {name:?} names map {m:?}, which is not defined"))
                    })?),
                };
                FieldKind::Data {
                    in_type: in_type(it),
                    out_type: out_type(n.attribute("outType")),
                    length: self.len_attr(n, "length", scope),
                    map,
                }
            };
            scope.push(name.clone());
            out.push(Field { name, count, kind });
        }
        // Our names go out of scope with us: after a struct, later fields
        // see only the struct's own name.
        scope.truncate(scope_start);
        Ok(out)
    }

    /// A `length=`/`count=`. A name matches an earlier field exactly, else
    /// ignoring case and spaces (wevtutil dumps of some providers write
    /// `length="SHA1 Hash Size"` for the field `SHA1HashSize`). A name that
    /// matches nothing is kept: decoding stops there and says why.
    fn len_attr(&self, n: Node<'_, '_>, attr: &str, scope: &[String]) -> Option<Len> {
        let v = n.attribute(attr).map(str::trim).filter(|v| !v.is_empty())?;
        if let Some(k) = parse_num(v) {
            return Some(Len::Fixed(k));
        }
        if scope.iter().any(|s| s == v) {
            return Some(Len::Field(v.to_string()));
        }
        let squash =
            |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect() };
        let want = squash(v);
        let found = scope.iter().rev().find(|s| squash(s) == want);
        Some(Len::Field(found.map_or(v, |s| s.as_str()).to_string()))
    }
}
