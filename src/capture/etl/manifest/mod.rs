//! Decoding any provider's event payload from its instrumentation manifest.
//!
//! The ETL file carries no schema: a manifest-based event's user data is its
//! template's fields packed back to back (etl-format.md §6). [`Manifest`]
//! reads the XML that describes them, either a source manifest
//! (`instrumentationManifest/instrumentation/events/provider`, string table
//! under `localization`) or what `wevtutil gp NAME /ge /gm:true /f:xml`
//! prints (a `provider` root with `events`, `maps` and `templates`, message
//! text inline). Elements are found by local name, so namespaces and the
//! nesting around `provider` do not matter.
//!
//! Decoding trusts nothing in the payload: every `length`/`count` is
//! checked against what is left, an array's storage is bounded by the
//! bytes left, elements that consume no bytes are counted against a
//! budget, and data that ends early (templates grow at the end across
//! builds without a version bump) ends the event with `complete = false`,
//! never an error.

mod decode;
mod parse;
mod value;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roxmltree::Document;

use super::guid::Guid;
use super::record::HeaderKind;
use super::EtlRecord;

pub use value::{fields_json, snake_case, FieldValue};

/// `EVENT_HEADER_FLAG_STRING_ONLY`: the user data is one NUL-terminated
/// UTF-16LE string, whatever the event's template.
pub const FLAG_STRING_ONLY: u16 = 0x0004;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Not well-formed XML (the message names line and column).
    #[error("not well-formed XML: {0}")]
    Xml(#[from] roxmltree::Error),
    /// Well-formed, but not a manifest we can use.
    #[error("line {line}, column {column}: {message}")]
    Invalid { line: u32, column: u32, message: String },
    #[error("{path}: {source}")]
    File { path: PathBuf, source: Box<ManifestError> },
}

/// The parts of one event record decoding needs (see [`Manifest::decode_raw`]).
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub provider: Guid,
    pub id: u16,
    pub version: u16,
    /// `EVENT_HEADER` flags (only [`FLAG_STRING_ONLY`] matters here).
    pub flags: u16,
    /// Size of `win:Pointer` and `win:SizeT` fields: 4 or 8.
    pub pointer_size: u8,
    pub user_data: &'a [u8],
}

/// One event's payload, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    /// The provider's name in the manifest.
    pub provider: String,
    /// The event's `symbol`, else `Task/Opcode` (opcode left out when it is
    /// `win:Info`), else `None`.
    pub event_name: Option<String>,
    /// Fields in template order, names as in the manifest. A field the data
    /// ended inside is kept with what was there when that is meaningful (a
    /// partial array, string or binary), else left out.
    pub fields: Vec<(String, FieldValue)>,
    /// False when decoding stopped before the template's end: the data
    /// ended early, a length or count could not be resolved, or an in-type
    /// is unknown. `stopped` says which.
    pub complete: bool,
    /// Bytes left after the last field (a newer build's extra fields).
    pub trailing_bytes: usize,
    /// Why decoding stopped early, naming the field and its byte offset in
    /// the user data; `None` when `complete`.
    pub stopped: Option<String>,
}

impl DecodedEvent {
    /// `{"provider", "event", "fields": {snake_case: value}, "complete",
    /// "trailing_bytes"}` (+ `"stopped"` when incomplete).
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("provider".into(), self.provider.clone().into());
        obj.insert("event".into(), self.event_name.clone().map_or(serde_json::Value::Null, Into::into));
        obj.insert("fields".into(), fields_json(&self.fields));
        obj.insert("complete".into(), self.complete.into());
        obj.insert("trailing_bytes".into(), self.trailing_bytes.into());
        if let Some(s) = &self.stopped {
            obj.insert("stopped".into(), s.clone().into());
        }
        serde_json::Value::Object(obj)
    }
}

/// Providers, events and templates read from one or more manifests.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    providers: HashMap<Guid, Provider>,
}

#[derive(Debug, Clone)]
struct Provider {
    name: String,
    /// id -> version -> event.
    events: HashMap<u16, BTreeMap<u16, Arc<EventDef>>>,
}

#[derive(Debug)]
struct EventDef {
    name: Option<String>,
    /// Empty for an event declared without a template.
    template: Arc<Template>,
}

#[derive(Debug, Default)]
pub(crate) struct Template {
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: String,
    /// `count=`: the field is an array of this many elements.
    pub(crate) count: Option<Len>,
    pub(crate) kind: FieldKind,
}

#[derive(Debug)]
pub(crate) enum FieldKind {
    Data { in_type: InType, out_type: OutType, length: Option<Len>, map: Option<Arc<ValueMap>> },
    Struct(Vec<Field>),
}

/// A `length=` or `count=`: a number, or the name of an earlier field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Len {
    Fixed(u64),
    Field(String),
}

/// Manifest in-types (`win:*`, or TDH's numbers as some dumps print them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InType {
    UnicodeString,
    AnsiString,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    HexInt32,
    HexInt64,
    Float,
    Double,
    Boolean,
    Binary,
    Guid,
    Pointer,
    FileTime,
    SystemTime,
    Sid,
    SizeT,
    /// u16 byte count, then UTF-16LE (`win:CountedUnicodeString`, TDH 22/300).
    CountedUnicodeString,
    /// u16 byte count, then 8-bit text (TDH 23/301).
    CountedAnsiString,
    /// u16 byte count, then bytes (`win:CountedBinary`, TDH 25).
    CountedBinary,
    /// Big-endian u16 byte count, then UTF-16LE (TDH 302).
    ReversedCountedUnicodeString,
    /// Big-endian u16 byte count, then 8-bit text (TDH 303).
    ReversedCountedAnsiString,
    /// No terminator: `length` characters, else the rest of the data (TDH 304).
    NonNulUnicodeString,
    /// As above, 8-bit (TDH 305).
    NonNulAnsiString,
    /// One UTF-16 unit (TDH 306).
    UnicodeChar,
    /// One byte (TDH 307).
    AnsiChar,
    /// u32 byte count, then bytes (TDH 309).
    HexDump,
    /// TOKEN_USER (two pointers), then a SID (TDH 310).
    WbemSid,
    /// u32 in network byte order.
    IpAddrV4,
    /// 16 bytes.
    IpAddrV6,
    Unknown(String),
}

/// The out-types that change how bytes are read or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutType {
    Default,
    /// On UInt32: the four bytes as stored are the address.
    Ipv4,
    /// On Binary (16 bytes, the default length) or GUID.
    Ipv6,
    /// On UInt16: network byte order.
    Port,
    /// On Binary: a SOCKADDR (family, port, address).
    SocketAddress,
    /// On integers: zero is false.
    Boolean,
    /// On AnsiString: UTF-8 text (Utf8, Xml, Json).
    Utf8,
}

/// A `valueMap` or `bitMap`, message text resolved.
#[derive(Debug)]
pub(crate) struct ValueMap {
    pub(crate) bits: bool,
    pub(crate) entries: Vec<(u64, String)>,
}

impl ValueMap {
    /// The text for `v`: a value map's entry, or a bit map's names joined
    /// with `|` (bits no entry names appended in hex); `None` when nothing
    /// matches.
    pub(crate) fn render(&self, v: u64) -> Option<String> {
        if !self.bits {
            return self.entries.iter().find(|(k, _)| *k == v).map(|(_, s)| s.clone());
        }
        if v == 0 {
            return self.entries.iter().find(|(k, _)| *k == 0).map(|(_, s)| s.clone());
        }
        let mut names = Vec::new();
        let mut left = v;
        for (k, s) in &self.entries {
            if *k != 0 && v & k == *k {
                names.push(s.as_str());
                left &= !k;
            }
        }
        if names.is_empty() {
            return None;
        }
        let mut out = names.join("|");
        if left != 0 {
            out.push_str(&format!("|{left:#x}"));
        }
        Some(out)
    }
}

impl Manifest {
    /// Reads every `provider` of one manifest document.
    pub fn parse(xml: &str) -> Result<Manifest, ManifestError> {
        let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
        let doc = Document::parse(xml)?;
        parse::manifest(&doc)
    }

    /// Reads a manifest file: UTF-8, or UTF-16 with a byte-order mark (what
    /// `wevtutil ... > file` writes from PowerShell).
    pub fn from_file(path: &Path) -> Result<Manifest, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Io { path: path.to_path_buf(), source })?;
        Manifest::parse(&parse::text_of(&bytes))
            .map_err(|e| ManifestError::File { path: path.to_path_buf(), source: Box::new(e) })
    }

    /// Adds `other`'s providers; for a provider both describe, `other`'s
    /// events replace ours of the same (id, version) and the rest are kept.
    pub fn merge(&mut self, other: Manifest) {
        for (guid, p) in other.providers {
            match self.providers.get_mut(&guid) {
                None => {
                    self.providers.insert(guid, p);
                }
                Some(mine) => {
                    mine.name = p.name;
                    for (id, versions) in p.events {
                        mine.events.entry(id).or_default().extend(versions);
                    }
                }
            }
        }
    }

    pub fn provider_name(&self, guid: &Guid) -> Option<&str> {
        self.providers.get(guid).map(|p| p.name.as_str())
    }

    /// GUIDs of the providers described.
    pub fn providers(&self) -> impl Iterator<Item = (&Guid, &str)> {
        self.providers.iter().map(|(g, p)| (g, p.name.as_str()))
    }

    /// Decodes one event record; `None` unless it is an `EVENT_HEADER`
    /// record of a provider the manifest describes and the manifest has
    /// the event (see [`Manifest::decode_raw`]).
    pub fn decode(&self, rec: &EtlRecord) -> Option<DecodedEvent> {
        if rec.header_kind != HeaderKind::Event {
            return None;
        }
        self.decode_raw(&RawEvent {
            provider: rec.provider?,
            id: rec.id,
            version: rec.version,
            flags: rec.flags,
            pointer_size: rec.pointer_size,
            user_data: &rec.user_data,
        })
    }

    /// Decodes one event: the template of (provider, id, version), falling
    /// back to the highest version below the event's when the exact one is
    /// missing. `None` when the provider or event is unknown; an event the
    /// manifest declares without a template decodes to no fields. A
    /// STRING_ONLY event of a known provider decodes to one field, `String`.
    pub fn decode_raw(&self, ev: &RawEvent<'_>) -> Option<DecodedEvent> {
        let p = self.providers.get(&ev.provider)?;
        if ev.flags & FLAG_STRING_ONLY != 0 {
            return Some(decode::string_only(&p.name, ev.user_data));
        }
        let def = p.events.get(&ev.id)?.range(..=ev.version).next_back()?.1;
        let out = decode::payload(&def.template.fields, ev.user_data, ev.pointer_size);
        Some(DecodedEvent {
            provider: p.name.clone(),
            event_name: def.name.clone(),
            fields: out.fields,
            complete: out.stopped.is_none(),
            trailing_bytes: out.trailing,
            stopped: out.stopped,
        })
    }

    /// Number of distinct templates (an event without one counts the
    /// shared empty template once per provider).
    pub fn template_count(&self) -> usize {
        let all = self.providers.values().flat_map(|p| p.events.values()).flat_map(|vs| vs.values());
        all.map(|e| Arc::as_ptr(&e.template)).collect::<std::collections::HashSet<_>>().len()
    }

    /// Every (provider, id, version) the manifest describes.
    pub fn events(&self) -> Vec<(Guid, u16, u16)> {
        let mut out: Vec<_> = self
            .providers
            .iter()
            .flat_map(|(g, p)| p.events.iter().flat_map(move |(id, vs)| vs.keys().map(move |v| (*g, *id, *v))))
            .collect();
        out.sort();
        out
    }
}
