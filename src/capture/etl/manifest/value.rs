//! Decoded field values: text and JSON forms, and field names in snake_case.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::capture::etl::guid::Guid;
use crate::time::Timestamp;

/// One decoded field. Integers of any width widen to `U64`/`I64`; a field
/// with a value or bit map whose value the map names becomes `Str` (the
/// map's text).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    Guid(Guid),
    Ip(IpAddr),
    Array(Vec<FieldValue>),
    /// Members of a `<struct>` in template order, names as in the manifest.
    Struct(Vec<(String, FieldValue)>),
    Time(Timestamp),
}

impl FieldValue {
    /// JSON form: numbers, booleans and strings as themselves; bytes as
    /// lowercase hex; GUIDs, addresses and times as their text; struct
    /// member names in snake_case. A float that is not finite is `null`.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::U64(v) => Value::from(*v),
            FieldValue::I64(v) => Value::from(*v),
            FieldValue::F64(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
            FieldValue::Bool(v) => Value::Bool(*v),
            FieldValue::Str(s) => Value::String(s.clone()),
            FieldValue::Bytes(b) => Value::String(hex(b)),
            FieldValue::Guid(g) => Value::String(g.to_string()),
            FieldValue::Ip(ip) => Value::String(ip.to_string()),
            FieldValue::Array(items) => Value::Array(items.iter().map(FieldValue::to_json).collect()),
            FieldValue::Struct(members) => fields_json(members),
            FieldValue::Time(t) => Value::String(t.rfc3339()),
        }
    }
}

/// A JSON object of `fields`, names in snake_case; a name met twice keeps
/// both values (the second as `name_2`, …).
pub fn fields_json(fields: &[(String, FieldValue)]) -> Value {
    let mut obj = Map::new();
    for (name, v) in fields {
        let base = snake_case(name);
        let mut key = base.clone();
        let mut n = 1;
        while obj.contains_key(&key) {
            n += 1;
            key = format!("{base}_{n}");
        }
        obj.insert(key, v.to_json());
    }
    Value::Object(obj)
}

impl serde::Serialize for FieldValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Bytes(b) => f.write_str(&hex(b)),
            FieldValue::Guid(g) => write!(f, "{g}"),
            FieldValue::Ip(ip) => write!(f, "{ip}"),
            FieldValue::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            FieldValue::Struct(members) => {
                f.write_str("{")?;
                for (i, (name, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}={v}")?;
                }
                f.write_str("}")
            }
            FieldValue::Time(t) => write!(f, "{t}"),
        }
    }
}

fn hex(b: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A manifest field name in snake_case, the form JSON output uses:
/// `MiniportIfIndex` -> `miniport_if_index`, `currentActivityId` ->
/// `current_activity_id`, `SourceNICName` -> `source_nic_name`,
/// `param1` -> `param1`. Anything not alphanumeric becomes one `_`; an
/// empty result becomes `field`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // A new word starts at an upper case letter after a lower case
            // letter or digit, or at the last capital of an acronym
            // followed by lower case ("NICName" -> "nic_name").
            let boundary = prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("field");
    }
    out
}
