//! Payloads built by hand, byte by byte, against small manifests.

use std::net::IpAddr;

use super::*;
use crate::time::Timestamp;

const GUID: &str = "{11111111-2222-3333-4444-555555555555}";

fn guid() -> Guid {
    Guid::parse(GUID).unwrap()
}

/// A source-shaped manifest with one provider: `events` and `templates`
/// are inner XML; `extra` goes inside the provider too (maps, tasks).
fn manifest(events: &str, templates: &str, extra: &str, strings: &str) -> Manifest {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events" xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events">
 <instrumentation>
  <events>
   <provider name="Test-Provider" guid="{GUID}" symbol="TEST">
    {extra}
    <events>{events}</events>
    <templates>{templates}</templates>
   </provider>
  </events>
 </instrumentation>
 <localization><resources culture="en-US"><stringTable>{strings}</stringTable></resources></localization>
</instrumentationManifest>"#
    );
    Manifest::parse(&xml).unwrap_or_else(|e| panic!("{e}"))
}

/// One event 1 v0 with template `t` made of `data`.
fn one(data: &str) -> Manifest {
    manifest(
        r#"<event value="1" version="0" template="t"/>"#,
        &format!(r#"<template tid="t">{data}</template>"#),
        "",
        "",
    )
}

fn raw(id: u16, version: u16, flags: u16, ptr: u8, data: &[u8]) -> RawEvent<'_> {
    RawEvent { provider: guid(), id, version, flags, pointer_size: ptr, user_data: data }
}

fn dec(m: &Manifest, data: &[u8]) -> DecodedEvent {
    m.decode_raw(&raw(1, 0, 0, 8, data)).expect("event is in the manifest")
}

fn get<'a>(e: &'a DecodedEvent, name: &str) -> &'a FieldValue {
    &e.fields.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no field {name} in {:?}", e.fields)).1
}

fn w(s: &str) -> Vec<u8> {
    s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect()
}

#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn put(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn u16(self, v: u16) -> Self {
        self.put(&v.to_le_bytes())
    }
    fn u32(self, v: u32) -> Self {
        self.put(&v.to_le_bytes())
    }
    fn u64(self, v: u64) -> Self {
        self.put(&v.to_le_bytes())
    }
}

const ALL_TYPES: &str = r#"
    <data name="I8" inType="win:Int8"/>
    <data name="U8" inType="win:UInt8"/>
    <data name="I16" inType="win:Int16"/>
    <data name="U16" inType="win:UInt16"/>
    <data name="I32" inType="win:Int32"/>
    <data name="U32" inType="win:UInt32"/>
    <data name="I64" inType="win:Int64"/>
    <data name="U64" inType="win:UInt64"/>
    <data name="H32" inType="win:HexInt32"/>
    <data name="H64" inType="win:HexInt64"/>
    <data name="F" inType="win:Float"/>
    <data name="D" inType="win:Double"/>
    <data name="B" inType="win:Boolean"/>
    <data name="G" inType="win:GUID"/>
    <data name="P" inType="win:Pointer"/>
    <data name="FT" inType="win:FILETIME"/>
    <data name="ST" inType="win:SYSTEMTIME"/>
    <data name="S" inType="win:SID"/>
    <data name="Z" inType="win:SizeT"/>
    <data name="W" inType="win:UnicodeString"/>
    <data name="A" inType="win:AnsiString"/>
    <data name="A3" inType="win:AnsiString" length="3"/>
    <data name="W4" inType="win:UnicodeString" length="4"/>
    <data name="Bin" inType="win:Binary" length="2"/>
    <data name="Port" inType="win:UInt16" outType="win:Port"/>
    <data name="V4" inType="win:UInt32" outType="win:IPv4"/>
    <data name="V6" inType="win:Binary" outType="win:IPv6"/>
    <data name="U8b" inType="win:UInt8" outType="win:Boolean"/>
"#;

fn all_types_payload(ptr: u8) -> Vec<u8> {
    let b = Bytes::default()
        .put(&[0xFE, 0xFE])
        .u16(0xFFFF)
        .u16(0xFFFF)
        .u32(0xFFFF_FFFE)
        .u32(7)
        .u64(u64::MAX)
        .u64(1 << 40)
        .u32(0xDEAD_BEEF)
        .u64(0x0123_4567_89AB_CDEF)
        .put(&1.5f32.to_le_bytes())
        .put(&(-2.25f64).to_le_bytes())
        .u32(2)
        .put(&Guid::parse("2ed6006e-4729-4609-b423-3ee7bcd678ef").unwrap().0);
    let b = if ptr == 4 { b.u32(0x1234_5678) } else { b.u64(0xFFFF_8000_0000_1234) };
    // FILETIME of 2020-01-02T03:04:05Z; SYSTEMTIME of the same.
    let ft = (1_577_934_245u64 + 11_644_473_600) * 10_000_000;
    let b = b.u64(ft).u16(2020).u16(1).u16(4).u16(2).u16(3).u16(4).u16(5).u16(600);
    // S-1-5-21-1-2
    let b = b.put(&[1, 3, 0, 0, 0, 0, 0, 5]).u32(21).u32(1).u32(2);
    let b = if ptr == 4 { b.u32(99) } else { b.u64(99) };
    b.put(&w("héllo"))
        .put(b"abc\0")
        .put(b"xy\0")
        .put(&w("ab")[..4])
        .put(&[0, 0, 0, 0])
        .put(&[0xAA, 0xBB])
        .put(&[0x01, 0xBB])
        .put(&[10, 0, 0, 1])
        .put(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        .put(&[1])
        .0
}

#[test]
fn every_in_type_decodes() {
    let m = one(ALL_TYPES);
    let e = dec(&m, &all_types_payload(8));
    assert!(e.complete, "{:?}", e.stopped);
    assert_eq!(e.trailing_bytes, 0);
    assert_eq!(e.provider, "Test-Provider");
    assert_eq!(get(&e, "I8"), &FieldValue::I64(-2));
    assert_eq!(get(&e, "U8"), &FieldValue::U64(0xFE));
    assert_eq!(get(&e, "I16"), &FieldValue::I64(-1));
    assert_eq!(get(&e, "U16"), &FieldValue::U64(0xFFFF));
    assert_eq!(get(&e, "I32"), &FieldValue::I64(-2));
    assert_eq!(get(&e, "U32"), &FieldValue::U64(7));
    assert_eq!(get(&e, "I64"), &FieldValue::I64(-1));
    assert_eq!(get(&e, "U64"), &FieldValue::U64(1 << 40));
    assert_eq!(get(&e, "H32"), &FieldValue::U64(0xDEAD_BEEF));
    assert_eq!(get(&e, "H64"), &FieldValue::U64(0x0123_4567_89AB_CDEF));
    assert_eq!(get(&e, "F"), &FieldValue::F64(1.5));
    assert_eq!(get(&e, "D"), &FieldValue::F64(-2.25));
    assert_eq!(get(&e, "B"), &FieldValue::Bool(true));
    assert_eq!(get(&e, "G").to_string(), "2ed6006e-4729-4609-b423-3ee7bcd678ef");
    assert_eq!(get(&e, "P"), &FieldValue::U64(0xFFFF_8000_0000_1234));
    assert_eq!(get(&e, "FT").to_string(), "2020-01-02T03:04:05.000000000Z");
    assert_eq!(get(&e, "ST").to_string(), "2020-01-02T03:04:05.600000000Z");
    assert_eq!(get(&e, "S"), &FieldValue::Str("S-1-5-21-1-2".into()));
    assert_eq!(get(&e, "Z"), &FieldValue::U64(99));
    assert_eq!(get(&e, "W"), &FieldValue::Str("héllo".into()));
    assert_eq!(get(&e, "A"), &FieldValue::Str("abc".into()));
    assert_eq!(get(&e, "A3"), &FieldValue::Str("xy".into()), "fixed length, NUL padding cut");
    assert_eq!(get(&e, "W4"), &FieldValue::Str("ab".into()));
    assert_eq!(get(&e, "Bin"), &FieldValue::Bytes(vec![0xAA, 0xBB]));
    assert_eq!(get(&e, "Port"), &FieldValue::U64(443), "network byte order");
    assert_eq!(get(&e, "V4"), &FieldValue::Ip("10.0.0.1".parse().unwrap()));
    assert_eq!(get(&e, "V6"), &FieldValue::Ip("2001:db8::1".parse().unwrap()));
    assert_eq!(get(&e, "U8b"), &FieldValue::Bool(true));
}

#[test]
fn pointer_and_size_t_follow_the_record_bitness() {
    let m = one(ALL_TYPES);
    let e = m.decode_raw(&raw(1, 0, 0, 4, &all_types_payload(4))).unwrap();
    assert!(e.complete, "{:?}", e.stopped);
    assert_eq!(get(&e, "P"), &FieldValue::U64(0x1234_5678));
    assert_eq!(get(&e, "Z"), &FieldValue::U64(99));
    assert_eq!(get(&e, "W"), &FieldValue::Str("héllo".into()));
    // The 64-bit payload read as 32-bit is misaligned from P on: it must
    // not decode completely to the same values.
    let e = m.decode_raw(&raw(1, 0, 0, 4, &all_types_payload(8))).unwrap();
    assert_ne!(get(&e, "P"), &FieldValue::U64(0xFFFF_8000_0000_1234));
}

#[test]
fn every_prefix_of_a_payload_stops_cleanly() {
    let m = one(ALL_TYPES);
    let full = all_types_payload(8);
    let whole = dec(&m, &full);
    let mut last = 0;
    for n in 0..full.len() {
        let e = dec(&m, &full[..n]);
        assert!(!e.complete, "prefix {n} claims complete");
        assert!(e.stopped.is_some());
        assert!(e.fields.len() >= last, "prefix {n}: fewer fields than a shorter prefix");
        last = e.fields.len();
        // Every field that is there and not the last (maybe partial) one
        // equals the full decode's.
        for (i, f) in e.fields.iter().enumerate().take(e.fields.len().saturating_sub(1)) {
            assert_eq!(f, &whole.fields[i], "prefix {n}");
        }
    }
}

#[test]
fn fields_added_at_the_end_are_trailing_bytes() {
    let m = one(r#"<data name="A" inType="win:UInt32"/><data name="B" inType="win:UInt16"/>"#);
    let e = dec(&m, &Bytes::default().u32(1).u16(2).u64(0xFFFF).u64(1).0);
    assert!(e.complete);
    assert_eq!(e.trailing_bytes, 16);
    assert_eq!(e.fields.len(), 2);
    // An older build's shorter payload: the missing field is just absent.
    let e = dec(&m, &Bytes::default().u32(1).0);
    assert!(!e.complete);
    assert_eq!(e.fields, vec![("A".to_string(), FieldValue::U64(1))]);
    assert_eq!(e.trailing_bytes, 0);
    assert!(e.stopped.as_deref().unwrap().contains("truncated B"), "{:?}", e.stopped);
}

#[test]
fn length_from_an_earlier_field() {
    let m = one(r#"<data name="FragmentSize" inType="win:UInt32"/>
           <data name="Fragment" inType="win:Binary" length="FragmentSize"/>
           <data name="After" inType="win:UInt8"/>"#);
    let e = dec(&m, &Bytes::default().u32(3).put(&[1, 2, 3, 9]).0);
    assert!(e.complete);
    assert_eq!(get(&e, "Fragment"), &FieldValue::Bytes(vec![1, 2, 3]));
    assert_eq!(get(&e, "After"), &FieldValue::U64(9));
}

#[test]
fn a_lying_length_keeps_what_is_there_and_stops() {
    let m = one(r#"<data name="Len" inType="win:UInt32"/>
           <data name="Data" inType="win:Binary" length="Len"/>
           <data name="After" inType="win:UInt8"/>"#);
    let e = dec(&m, &Bytes::default().u32(0xFFFF_FFFF).put(&[1, 2, 3]).0);
    assert!(!e.complete);
    assert_eq!(get(&e, "Data"), &FieldValue::Bytes(vec![1, 2, 3]));
    assert_eq!(e.fields.len(), 2);
    let why = e.stopped.unwrap();
    assert!(why.contains("need 4294967295 bytes, have 3") && why.contains("@0x4"), "{why}");

    // A string length counts characters: 3 chars = 6 bytes.
    let m = one(r#"<data name="N" inType="win:UInt16"/><data name="S" inType="win:UnicodeString" length="N"/>"#);
    let e = dec(&m, &Bytes::default().u16(3).put(&w("abc")[..6]).0);
    assert!(e.complete);
    assert_eq!(get(&e, "S"), &FieldValue::Str("abc".into()));
    let e = dec(&m, &Bytes::default().u16(50).put(&w("abc")[..6]).0);
    assert!(!e.complete);
    assert_eq!(get(&e, "S"), &FieldValue::Str("abc".into()), "partial string kept");
}

#[test]
fn a_lying_count_is_capped_by_the_data() {
    let m = one(r#"<data name="N" inType="win:UInt32"/><data name="V" inType="win:UInt16" count="N"/>"#);
    let e = dec(&m, &Bytes::default().u32(u32::MAX).u16(1).u16(2).put(&[3]).0);
    assert!(!e.complete);
    assert_eq!(get(&e, "V"), &FieldValue::Array(vec![FieldValue::U64(1), FieldValue::U64(2)]));
    assert!(e.stopped.unwrap().contains("element 2 of 4294967295"));
    // An honest count.
    let e = dec(&m, &Bytes::default().u32(2).u16(1).u16(2).0);
    assert!(e.complete);
    assert_eq!(get(&e, "V"), &FieldValue::Array(vec![FieldValue::U64(1), FieldValue::U64(2)]));
    // A fixed count.
    let m = one(r#"<data name="V" inType="win:UInt8" count="3"/>"#);
    let e = dec(&m, &[7, 8, 9, 10]);
    assert!(e.complete);
    assert_eq!(e.trailing_bytes, 1);
    assert_eq!(get(&e, "V").to_string(), "[7, 8, 9]");
}

#[test]
fn a_huge_count_of_empty_elements_ends() {
    let m = one(r#"<data name="N" inType="win:UInt32"/><data name="Z" inType="win:UInt32"/>
           <data name="V" inType="win:Binary" length="Z" count="N"/>"#);
    let e = dec(&m, &Bytes::default().u32(u32::MAX).u32(0).0);
    assert!(!e.complete);
    let FieldValue::Array(items) = get(&e, "V") else { panic!() };
    assert!(items.len() <= EMPTY_BUDGET_FOR_TESTS + 1, "{}", items.len());
    assert!(e.stopped.unwrap().contains("gave up"));
    // A few are fine.
    let e = dec(&m, &Bytes::default().u32(3).u32(0).0);
    assert!(e.complete);
    assert_eq!(get(&e, "V"), &FieldValue::Array(vec![FieldValue::Bytes(vec![]); 3]));
}

const EMPTY_BUDGET_FOR_TESTS: usize = 4096;

#[test]
fn structs_repeat_by_a_count_field() {
    let m = one(r#"<data name="Count" inType="win:UInt16"/>
           <struct name="Items" count="Count">
             <data name="Len" inType="win:UInt8"/>
             <data name="Name" inType="win:AnsiString" length="Len"/>
             <data name="Flag" inType="win:Boolean"/>
           </struct>
           <data name="Tail" inType="win:UInt8"/>"#);
    let p = Bytes::default().u16(2).put(&[2]).put(b"ab").u32(1).put(&[1]).put(b"c").u32(0).put(&[5]).0;
    let e = dec(&m, &p);
    assert!(e.complete, "{:?}", e.stopped);
    let item = |len: u64, name: &str, flag: bool| {
        FieldValue::Struct(vec![
            ("Len".into(), FieldValue::U64(len)),
            ("Name".into(), FieldValue::Str(name.into())),
            ("Flag".into(), FieldValue::Bool(flag)),
        ])
    };
    assert_eq!(get(&e, "Items"), &FieldValue::Array(vec![item(2, "ab", true), item(1, "c", false)]));
    assert_eq!(get(&e, "Tail"), &FieldValue::U64(5));
    assert_eq!(get(&e, "Items").to_string(), "[{Len=2, Name=ab, Flag=true}, {Len=1, Name=c, Flag=false}]");

    // Cut inside the second struct: the first is whole, the second partial.
    let e = dec(&m, &p[..p.len() - 5]);
    assert!(!e.complete);
    let FieldValue::Array(items) = get(&e, "Items") else { panic!() };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], item(2, "ab", true));
    let FieldValue::Struct(second) = &items[1] else { panic!() };
    assert_eq!(second.len(), 2, "{second:?}");
}

#[test]
fn a_struct_member_is_not_a_length_after_the_struct() {
    let m = one(r#"<struct name="S"><data name="N" inType="win:UInt8"/></struct>
           <data name="X" inType="win:Binary" length="N"/>"#);
    let e = dec(&m, &[2, 7, 7]);
    assert!(!e.complete);
    assert_eq!(e.fields.len(), 1);
    let why = e.stopped.unwrap();
    assert!(why.contains("length of X names N, which was not decoded") && why.contains("@0x1"), "{why}");
}

#[test]
fn a_length_name_matches_ignoring_spaces_and_case() {
    let m = one(r#"<data name="SHA1HashSize" inType="win:UInt32"/>
           <data name="SHA1Hash" inType="win:Binary" length="SHA1 Hash size"/>"#);
    let e = dec(&m, &Bytes::default().u32(2).put(&[0xAB, 0xCD]).0);
    assert!(e.complete, "{:?}", e.stopped);
    assert_eq!(get(&e, "SHA1Hash"), &FieldValue::Bytes(vec![0xAB, 0xCD]));
}

#[test]
fn maps_show_their_text() {
    let m = manifest(
        r#"<event value="1" version="0" template="t"/>"#,
        r#"<template tid="t">
             <data name="Kind" inType="win:UInt32" map="KindMap"/>
             <data name="Flags" inType="win:UInt8" map="FlagMap"/>
           </template>"#,
        r#"<maps>
             <valueMap name="KindMap">
               <map value="0" message="$(string.kind.zero)"/>
               <map value="0x10" message="$(string.kind.sixteen)"/>
             </valueMap>
             <bitMap name="FlagMap">
               <map value="0x1" message="$(string.flag.a)"/>
               <map value="0x4" message="Literal C"/>
             </bitMap>
           </maps>"#,
        r#"<string id="kind.zero" value="Zero "/><string id="kind.sixteen" value="Sixteen"/>
           <string id="flag.a" value="A"/>"#,
    );
    let e = dec(&m, &Bytes::default().u32(16).put(&[0x5]).0);
    assert_eq!(get(&e, "Kind"), &FieldValue::Str("Sixteen".into()));
    assert_eq!(get(&e, "Flags"), &FieldValue::Str("A|Literal C".into()));
    let e = dec(&m, &Bytes::default().u32(0).put(&[0x7]).0);
    assert_eq!(get(&e, "Kind"), &FieldValue::Str("Zero".into()));
    assert_eq!(get(&e, "Flags"), &FieldValue::Str("A|Literal C|0x2".into()));
    // Values the map does not name stay numbers.
    let e = dec(&m, &Bytes::default().u32(3).put(&[0x8]).0);
    assert_eq!(get(&e, "Kind"), &FieldValue::U64(3));
    assert_eq!(get(&e, "Flags"), &FieldValue::U64(8));
}

#[test]
fn a_mapped_count_still_counts() {
    let m = manifest(
        r#"<event value="1" template="t"/>"#,
        r#"<template tid="t"><data name="N" inType="win:UInt8" map="M"/>
           <data name="V" inType="win:UInt8" count="N"/></template>"#,
        r#"<maps><valueMap name="M"><map value="2" message="two"/></valueMap></maps>"#,
        "",
    );
    let e = dec(&m, &[2, 7, 8]);
    assert!(e.complete);
    assert_eq!(get(&e, "N"), &FieldValue::Str("two".into()));
    assert_eq!(get(&e, "V").to_string(), "[7, 8]");
}

#[test]
fn string_only_events_are_one_string() {
    let m = one(r#"<data name="A" inType="win:UInt32"/>"#);
    let e = m.decode_raw(&raw(0, 0, FLAG_STRING_ONLY, 8, &w("hello there"))).unwrap();
    assert!(e.complete);
    assert_eq!(e.fields, vec![("String".to_string(), FieldValue::Str("hello there".into()))]);
    let e = m.decode_raw(&raw(0, 0, FLAG_STRING_ONLY, 8, &w("cut")[..6])).unwrap();
    assert!(!e.complete);
    assert_eq!(get(&e, "String"), &FieldValue::Str("cut".into()));
}

#[test]
fn unterminated_last_string_is_kept_but_incomplete() {
    let m = one(r#"<data name="A" inType="win:UnicodeString"/><data name="B" inType="win:AnsiString"/>"#);
    let e = dec(&m, &[b'h', 0, b'i', 0]);
    assert!(!e.complete);
    assert_eq!(get(&e, "A"), &FieldValue::Str("hi".into()));
    let e = dec(&m, &[b'h', 0, 0, 0, b'x', b'y']);
    assert!(!e.complete);
    assert_eq!(get(&e, "B"), &FieldValue::Str("xy".into()));
    let e = dec(&m, &[b'h', 0, 0, 0, b'x', 0]);
    assert!(e.complete);
    // Latin-1 when not UTF-8.
    let e = dec(&m, &[0, 0, 0xE9, 0]);
    assert_eq!(get(&e, "B"), &FieldValue::Str("é".into()));
}

#[test]
fn versions_fall_back_to_the_highest_below() {
    let m = manifest(
        r#"<event value="5" version="1" template="v1" symbol="Five_V1"/>
           <event value="5" version="3" template="v3" symbol="Five_V3"/>"#,
        r#"<template tid="v1"><data name="A" inType="win:UInt8"/></template>
           <template tid="v3"><data name="A" inType="win:UInt8"/><data name="B" inType="win:UInt8"/></template>"#,
        "",
        "",
    );
    let name = |v| m.decode_raw(&raw(5, v, 0, 8, &[1, 2])).map(|e| e.event_name.unwrap());
    assert_eq!(name(0), None);
    assert_eq!(name(1).as_deref(), Some("Five_V1"));
    assert_eq!(name(2).as_deref(), Some("Five_V1"));
    assert_eq!(name(3).as_deref(), Some("Five_V3"));
    assert_eq!(name(200).as_deref(), Some("Five_V3"));
    assert!(m.decode_raw(&raw(6, 0, 0, 8, &[])).is_none(), "unknown id");
    let mut other = raw(5, 1, 0, 8, &[]);
    other.provider = Guid::NULL;
    assert!(m.decode_raw(&other).is_none(), "unknown provider");
}

#[test]
fn event_names_from_symbol_or_task_and_opcode() {
    let m = manifest(
        r#"<event value="1" task="Capture" opcode="win:Start"/>
           <event value="2" task="Capture" opcode="Custom"/>
           <event value="3" task="Capture" opcode="win:Info"/>
           <event value="4"/>"#,
        "",
        r#"<tasks><task name="Capture" value="1"><opcodes><opcode name="Custom" value="11"/></opcodes></task></tasks>"#,
        "",
    );
    let name = |id| m.decode_raw(&raw(id, 0, 0, 8, &[])).unwrap().event_name;
    assert_eq!(name(1).as_deref(), Some("Capture/Start"));
    assert_eq!(name(2).as_deref(), Some("Capture/Custom"));
    assert_eq!(name(3).as_deref(), Some("Capture"));
    assert_eq!(name(4), None);
    // An event without a template decodes to no fields.
    let e = m.decode_raw(&raw(4, 0, 0, 8, &[1, 2])).unwrap();
    assert!(e.complete && e.fields.is_empty());
    assert_eq!(e.trailing_bytes, 2);
}

/// The shape `wevtutil gp NAME /ge /gm:true /f:xml` prints: a provider
/// root, numeric task and opcode, messages inline.
#[test]
fn wevtutil_dump_shape() {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<provider name="Dump-Provider" guid="{GUID}" helpLink="" resourceFileName="x.sys" messageFileName="x.sys" message="Dump">
  <channels><channel name="Dump/Operational" id="16" message="Operational"/></channels>
  <tasks><task name="Work" value="7" message="Work"><opcodes><opcode name="Step" value="12" message="Step"/></opcodes></task></tasks>
  <events>
    <event value="10" version="2" opcode="12" channel="16" level="4" task="7" keywords="0x8000000000000000" template="T10" message="Did %1"/>
  </events>
  <maps><valueMap name="Res"><map value="0x0" message="Success"/><map value="0x1" message="Failure"/></valueMap></maps>
  <templates>
    <template tid="T10">
      <data name="Result" inType="win:UInt32" outType="win:HexInt32" map="Res"/>
      <data name="Who" inType="win:UnicodeString" outType="xs:string"/>
    </template>
  </templates>
</provider>"#
    );
    let m = Manifest::parse(&xml).unwrap();
    assert_eq!(m.provider_name(&guid()), Some("Dump-Provider"));
    let mut data = Bytes::default().u32(1).0;
    data.extend(w("me"));
    let e = m.decode_raw(&raw(10, 2, 0, 8, &data)).unwrap();
    assert_eq!(e.event_name.as_deref(), Some("Work/Step"));
    assert_eq!(
        e.fields,
        vec![("Result".into(), FieldValue::Str("Failure".into())), ("Who".into(), FieldValue::Str("me".into()))]
    );
}

#[test]
fn unknown_in_types_stop_decoding_but_parse() {
    let m = one(
        r#"<data name="A" inType="win:UInt8"/><data name="X" inType="win:Mystery"/><data name="B" inType="win:UInt8"/>"#,
    );
    let e = dec(&m, &[1, 2, 3]);
    assert!(!e.complete);
    assert_eq!(e.fields.len(), 1);
    assert_eq!(e.trailing_bytes, 2);
    assert!(e.stopped.unwrap().contains("in-type win:Mystery of X is not supported"));
}

#[test]
fn tdh_numbers_and_aliases_are_in_types() {
    let m = one(r#"<data name="A" inType="win:8"/><data name="B" inType="win:SInt16"/>
           <data name="C" inType="win:IPAddrV4"/><data name="D" inType="win:22"/>
           <data name="E" inType="win:CountedBinary"/>"#);
    let p = Bytes::default().u32(5).u16(0xFFFE).put(&[192, 168, 1, 2]).u16(4).put(&w("ok")[..4]).u16(1).put(&[9]).0;
    let e = dec(&m, &p);
    assert!(e.complete, "{:?}", e.stopped);
    assert_eq!(get(&e, "A"), &FieldValue::U64(5));
    assert_eq!(get(&e, "B"), &FieldValue::I64(-2));
    assert_eq!(get(&e, "C"), &FieldValue::Ip("192.168.1.2".parse().unwrap()));
    assert_eq!(get(&e, "D"), &FieldValue::Str("ok".into()));
    assert_eq!(get(&e, "E"), &FieldValue::Bytes(vec![9]));
}

#[test]
fn odd_values_do_not_lie() {
    let m = one(r#"<data name="FT" inType="win:FILETIME"/><data name="ST" inType="win:SYSTEMTIME"/>
           <data name="SA" inType="win:Binary" outType="win:SocketAddress" length="16"/>"#);
    let p = Bytes::default().u64(0).put(&[0; 16]).u16(2).put(&[0, 80, 127, 0, 0, 1]).put(&[0; 8]).0;
    let e = dec(&m, &p);
    assert!(e.complete);
    assert_eq!(get(&e, "FT"), &FieldValue::U64(0), "FILETIME 0 is not a date");
    assert_eq!(get(&e, "ST"), &FieldValue::Bytes(vec![0; 16]), "month 0 is not a date");
    assert_eq!(get(&e, "SA"), &FieldValue::Str("127.0.0.1:80".into()));
}

#[test]
fn parse_errors_say_where() {
    let e = Manifest::parse("<provider name='x' guid='{1}'>\n<events></event>").unwrap_err().to_string();
    assert!(e.starts_with("not well-formed XML") && e.contains("at 2:"), "{e}");
    let e = Manifest::parse("<provider name='x' guid='{1}'>\n<events>").unwrap_err().to_string();
    assert!(e.contains("never closed"), "{e}");
    let e = Manifest::parse("<a>\n <b/>\n</a>").unwrap_err().to_string();
    assert!(e.contains("no <provider>"), "{e}");
    let e = Manifest::parse("<root>\n  <provider name='x' guid='nope'/></root>").unwrap_err().to_string();
    assert!(e.starts_with("line 2, column 3") && e.contains("bad provider guid"), "{e}");
    let xml =
        format!("<provider name='x' guid='{GUID}'>\n<events><event value='1' template='missing'/></events></provider>");
    let e = Manifest::parse(&xml).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("not defined"), "{e}");
    let xml = format!(
        "<provider name='x' guid='{GUID}'><templates><template tid='t'>\n<data name='a' inType='win:UInt8' map='nomap'/></template></templates></provider>"
    );
    assert!(Manifest::parse(&xml).unwrap_err().to_string().contains("names map \"nomap\""));
}

#[test]
fn merge_adds_and_replaces() {
    let mut a = one(r#"<data name="A" inType="win:UInt8"/>"#);
    let b = manifest(
        r#"<event value="2" template="t"/>"#,
        r#"<template tid="t"><data name="B" inType="win:UInt8"/></template>"#,
        "",
        "",
    );
    let other = r#"<provider name="Other" guid="{99999999-2222-3333-4444-555555555555}"><events><event value="1"/></events></provider>"#;
    a.merge(b);
    a.merge(Manifest::parse(other).unwrap());
    assert_eq!(a.events().len(), 3);
    assert_eq!(get(&a.decode_raw(&raw(1, 0, 0, 8, &[1])).unwrap(), "A"), &FieldValue::U64(1));
    assert_eq!(get(&a.decode_raw(&raw(2, 0, 0, 8, &[1])).unwrap(), "B"), &FieldValue::U64(1));
    assert_eq!(a.provider_name(&Guid::parse("99999999-2222-3333-4444-555555555555").unwrap()), Some("Other"));
}

#[test]
fn utf16_manifest_files_read() {
    let xml = format!(r#"<provider name="U16" guid="{GUID}"/>"#);
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
    let path = std::env::temp_dir().join(format!("overlay-trace-manifest-{}.xml", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let m = Manifest::from_file(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(m.unwrap().provider_name(&guid()), Some("U16"));
    let e = Manifest::from_file(Path::new("/nonexistent/m.xml")).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/m.xml: "), "{e}");
}

#[test]
fn snake_case_names() {
    for (a, b) in [
        ("MiniportIfIndex", "miniport_if_index"),
        ("LowerIfIndex", "lower_if_index"),
        ("currentActivityId", "current_activity_id"),
        ("SourceNICName", "source_nic_name"),
        ("param1", "param1"),
        ("GftFlowEntryId", "gft_flow_entry_id"),
        ("Packet Fragment", "packet_fragment"),
        ("already_snake", "already_snake"),
        ("IPv4", "i_pv4"),
        ("ID", "id"),
        ("", "field"),
        ("__", "field"),
    ] {
        assert_eq!(snake_case(a), b, "{a}");
    }
}

#[test]
fn json_and_text_forms() {
    let v = FieldValue::Struct(vec![
        ("MiniportIfIndex".into(), FieldValue::U64(8)),
        ("Frag".into(), FieldValue::Bytes(vec![0xAB, 1])),
        ("When".into(), FieldValue::Time(Timestamp::from_nanos(0))),
        ("Nan".into(), FieldValue::F64(f64::NAN)),
        ("Ip".into(), FieldValue::Ip(IpAddr::from([1, 2, 3, 4]))),
        ("L".into(), FieldValue::Array(vec![FieldValue::I64(-1), FieldValue::Bool(false)])),
    ]);
    assert_eq!(
        v.to_json(),
        serde_json::json!({"miniport_if_index": 8, "frag": "ab01", "when": "1970-01-01T00:00:00.000000000Z",
                           "nan": null, "ip": "1.2.3.4", "l": [-1, false]})
    );
    assert_eq!(
        v.to_string(),
        "{MiniportIfIndex=8, Frag=ab01, When=1970-01-01T00:00:00.000000000Z, Nan=NaN, Ip=1.2.3.4, L=[-1, false]}"
    );
    let m = one(r#"<data name="A" inType="win:UInt8"/><data name="a" inType="win:UInt8"/>"#);
    let j = dec(&m, &[1, 2, 3]).to_json();
    assert_eq!(j["fields"], serde_json::json!({"a": 1, "a_2": 2}));
    assert_eq!(j["trailing_bytes"], 1);
    assert_eq!(j["complete"], true);
}

#[test]
fn decode_takes_event_records_only() {
    let m = one(r#"<data name="A" inType="win:UInt8"/>"#);
    let mut rec = EtlRecord {
        header_kind: HeaderKind::Event,
        header_type: 0x13,
        provider: Some(guid()),
        id: 1,
        level: 4,
        user_data: vec![42].into(),
        ..EtlRecord::blank()
    };
    assert_eq!(get(&m.decode(&rec).unwrap(), "A"), &FieldValue::U64(42));
    rec.header_kind = HeaderKind::Classic;
    assert!(m.decode(&rec).is_none());
}

/// Random payloads against random-ish templates: no panic, no hang, and
/// the bytes accounted for never exceed the input.
#[test]
fn random_payloads_never_panic() {
    let m = one(ALL_TYPES);
    let counted =
        one(r#"<data name="N" inType="win:UInt8"/><struct name="S" count="N"><data name="L" inType="win:UInt8"/>
           <data name="B" inType="win:Binary" length="L"/><data name="W" inType="win:UnicodeString"/>
           <data name="Sid" inType="win:SID"/></struct><data name="T" inType="win:AnsiString" count="N"/>"#);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        for mm in [&m, &counted] {
            for ptr in [4, 8] {
                let flags = if round % 50 == 0 { FLAG_STRING_ONLY } else { 0 };
                let e = mm.decode_raw(&raw(1, 0, flags, ptr, &data)).unwrap();
                assert!(e.trailing_bytes <= data.len());
                assert_eq!(e.complete, e.stopped.is_none());
                let _ = e.to_json();
                for (_, v) in &e.fields {
                    let _ = v.to_string();
                }
            }
        }
    }
}

#[test]
fn templates_are_shared_and_counted() {
    let m = manifest(
        r#"<event value="1" template="t"/><event value="2" template="t"/><event value="3"/>"#,
        r#"<template tid="t"><data name="A" inType="win:UInt8"/></template>"#,
        "",
        "",
    );
    assert_eq!(m.template_count(), 2, "t and the empty template");
}
