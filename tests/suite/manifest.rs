//! Manifest-driven payload decoding against real traces: our own small
//! manifests (tests/data/manifests) for ndiscap and PowerShell events of
//! the corpus, plus random payloads against every template they hold.
//!
//! The corpus lives outside the repository (`../shared/corpus`); when it is
//! absent the corpus tests print a note and pass.

use std::path::{Path, PathBuf};

use overlay_trace::capture::etl::guid::Guid;
use overlay_trace::capture::etl::manifest::{snake_case, FieldValue, Manifest, RawEvent, FLAG_STRING_ONLY};
use overlay_trace::capture::etl::{EtlReader, EtlRecord};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/manifests");

const NDISCAP: &str = "2ed6006e-4729-4609-b423-3ee7bcd678ef";
const POWERSHELL: &str = "a0c1853b-5c40-4b15-8766-3cf1c58f985a";

fn manifest(name: &str) -> Manifest {
    let path = Path::new(MANIFESTS).join(name);
    Manifest::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn both() -> Manifest {
    let mut m = manifest("ndiscap-wevtutil-shape.xml");
    m.merge(manifest("powershell-source-shape.xml"));
    m
}

fn corpus_file(rel: &str) -> Option<PathBuf> {
    let p = Path::new(CORPUS).join("etl").join(rel);
    if !p.is_file() {
        eprintln!("note: {} not present; manifest corpus test skipped", p.display());
        return None;
    }
    Some(p)
}

fn records(path: &Path, provider: &str) -> Vec<EtlRecord> {
    let guid = Guid::parse(provider).unwrap();
    let mut r = EtlReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if rec.provider == Some(guid) {
            out.push(rec);
        }
    }
    out
}

fn field<'a>(fields: &'a [(String, FieldValue)], name: &str) -> &'a FieldValue {
    &fields.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in {fields:?}")).1
}

#[test]
fn manifests_read_in_both_shapes() {
    let m = both();
    assert_eq!(
        m.provider_name(&Guid::parse(NDISCAP).unwrap()),
        Some("Microsoft-Windows-NDIS-PacketCapture"),
        "wevtutil-shaped manifest"
    );
    assert_eq!(
        m.provider_name(&Guid::parse(POWERSHELL).unwrap()),
        Some("Microsoft-Windows-PowerShell"),
        "source-shaped"
    );
    assert_eq!(m.events().len(), 4 + 7);
}

#[test]
fn ndiscap_packet_fragment_from_the_corpus() {
    let Some(path) = corpus_file("ndiscap/alilje_attackhost_v_1_0_2DEV__trace.etl") else { return };
    let m = manifest("ndiscap-wevtutil-shape.xml");
    let recs: Vec<_> = records(&path, NDISCAP).into_iter().filter(|r| r.id == 1001).collect();
    assert_eq!(recs.len(), 1, "the trace holds one packet");
    let e = m.decode(&recs[0]).expect("1001 is in the manifest");
    assert_eq!(e.provider, "Microsoft-Windows-NDIS-PacketCapture");
    assert!(e.complete, "{:?}", e.stopped);
    let names: Vec<&str> = e.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["MiniportIfIndex", "LowerIfIndex", "FragmentSize", "Fragment"]);
    assert_eq!(field(&e.fields, "MiniportIfIndex"), &FieldValue::U64(8));
    assert_eq!(field(&e.fields, "LowerIfIndex"), &FieldValue::U64(8));
    assert_eq!(field(&e.fields, "FragmentSize"), &FieldValue::U64(197));
    let FieldValue::Bytes(frag) = field(&e.fields, "Fragment") else { panic!("Fragment is not bytes") };
    assert_eq!(frag.len(), 197);
    assert_eq!(&frag[..], &recs[0].user_data[12..209]);
    // An SSDP M-SEARCH from 192.168.1.2 to 239.255.255.250 over Wi-Fi:
    // an 802.11 data frame (to DS), LLC/SNAP for IPv4, then IPv4 and UDP.
    assert_eq!(&frag[..2], &[0x08, 0x01]);
    assert_eq!(&frag[24..32], &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    assert_eq!(&frag[44..48], &[192, 168, 1, 2]);
    assert!(frag.windows(8).any(|w| w == b"M-SEARCH"));
    // This build appends GftFlowEntryId and GftOffloadInformation (u64 each)
    // that the older template does not name.
    assert_eq!(e.trailing_bytes, 16);
    let json = e.to_json();
    assert_eq!(json["fields"]["miniport_if_index"], 8);
    assert_eq!(json["fields"]["fragment_size"], 197);
    assert_eq!(json["fields"]["fragment"].as_str().unwrap().len(), 2 * 197);
}

#[test]
fn ndiscap_driver_info_and_rules_by_hand() {
    let m = manifest("ndiscap-wevtutil-shape.xml");
    let w = |s: &str| -> Vec<u8> { s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect() };
    let mut data = Vec::new();
    for s in ["Intel(R) Ethernet", "{0F5A7A2B-1111-2222-3333-444455556666}", "e1dexpress", "12.15.22.6"] {
        data.extend(w(s));
    }
    for id in [1012, 1013] {
        let ev = RawEvent {
            provider: Guid::parse(NDISCAP).unwrap(),
            id,
            version: 0,
            flags: 0,
            pointer_size: 8,
            user_data: &data,
        };
        let e = m.decode_raw(&ev).unwrap();
        assert!(e.complete && e.trailing_bytes == 0, "{:?}", e.stopped);
        assert_eq!(field(&e.fields, "ServiceName"), &FieldValue::Str("e1dexpress".into()));
        assert_eq!(field(&e.fields, "Version"), &FieldValue::Str("12.15.22.6".into()));
    }
    // 1016: a rule with mapped RuleId/Directive and a Length-sized value.
    let rule = [0x0a, 0x03, 4, 0, 10, 0, 0, 1];
    let ev = RawEvent {
        provider: Guid::parse(NDISCAP).unwrap(),
        id: 1016,
        version: 0,
        flags: 0,
        pointer_size: 8,
        user_data: &rule,
    };
    let e = m.decode_raw(&ev).unwrap();
    assert!(e.complete);
    assert_eq!(field(&e.fields, "RuleId"), &FieldValue::Str("Source IPv4 Address".into()));
    assert_eq!(field(&e.fields, "Directive"), &FieldValue::Str("EQU".into()));
    assert_eq!(field(&e.fields, "Value"), &FieldValue::Bytes(vec![10, 0, 0, 1]));
}

#[test]
fn powershell_events_from_the_corpus() {
    let Some(path) = corpus_file("microsoft_krabsetw__powershell.etl") else { return };
    let m = manifest("powershell-source-shape.xml");
    let recs = records(&path, POWERSHELL);
    assert_eq!(recs.len(), 112);
    let mut pipeline = 0;
    for rec in &recs {
        let e = m.decode(rec).unwrap_or_else(|| panic!("event {} v{} not decoded", rec.id, rec.version));
        assert!(e.complete, "event {}: {:?}", rec.id, e.stopped);
        assert_eq!(e.trailing_bytes, 0, "event {}", rec.id);
        match rec.id {
            7937..=7939 => {
                pipeline += 1;
                assert_eq!(e.fields.len(), 3);
                assert_eq!(e.event_name.as_deref(), Some("Method"));
                let FieldValue::Str(ctx) = field(&e.fields, "ContextInfo") else { panic!() };
                assert!(ctx.contains("Host Name = ConsoleHost"), "{ctx}");
                assert!(ctx.contains("Host Version = 5.1.22621.436"), "{ctx}");
            }
            7942 => {
                assert_eq!(field(&e.fields, "ClassName"), &FieldValue::Str("RemoteSessionNamedPipeServer".into()));
                assert_eq!(field(&e.fields, "MethodName"), &FieldValue::Str("StartListening".into()));
                assert_eq!(e.fields.len(), 8);
            }
            53504 => {
                assert_eq!(e.event_name.as_deref(), Some("NamedPipeIPC/OpenAsync"));
                assert_eq!(field(&e.fields, "param1"), &FieldValue::Str("16040".into()));
                assert_eq!(field(&e.fields, "param2"), &FieldValue::Str("DefaultAppDomain".into()));
            }
            40961 | 40962 => {
                assert!(e.fields.is_empty());
                let want = if rec.id == 40961 { "ConsoleStartup/Start" } else { "ConsoleStartup/Stop" };
                assert_eq!(e.event_name.as_deref(), Some(want));
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(pipeline, 101 + 1 + 6);
}

/// Random user data against every template of the test manifests, at both
/// pointer sizes, with and without STRING_ONLY: never a panic.
#[test]
fn random_payloads_against_every_template() {
    let m = both();
    let events = m.events();
    assert!(m.template_count() >= 5);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut complete = 0;
    for round in 0..400 {
        let len = (next() % 512) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Every fourth payload is mostly zeros, so strings end and small
        // lengths decode whole.
        if round % 4 == 0 {
            data.iter_mut().for_each(|b| *b &= 0x03);
        }
        for &(provider, id, version) in &events {
            for pointer_size in [4, 8] {
                for flags in [0, FLAG_STRING_ONLY] {
                    let ev = RawEvent { provider, id, version, flags, pointer_size, user_data: &data };
                    let e = m.decode_raw(&ev).expect("every listed event decodes");
                    assert!(e.trailing_bytes <= data.len());
                    complete += e.complete as usize;
                    let _ = e.to_json();
                    for (name, v) in &e.fields {
                        let _ = (snake_case(name), v.to_string());
                    }
                }
            }
        }
    }
    assert!(complete > 0);
}

/// `events --manifest` prints a manifest-decoded event on one line and its
/// fields under snake_case keys in JSON.
#[test]
fn events_command_uses_the_manifest() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("tests/data/manifests/powershell-source-shape.xml");
    let etl = root.join("fixtures/etl/microsoft_krabsetw__powershell.etl");
    let run = |format: &str| {
        let out = assert_cmd::Command::cargo_bin("overlay-trace")
            .unwrap()
            .args(["events", "-f", format, "--manifest", manifest.to_str().unwrap(), etl.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("text");
    assert_eq!(text.lines().count(), 114, "one line per event");
    assert!(text.contains("[Microsoft-Windows-PowerShell]"), "provider named from the manifest");
    let json = run("json");
    let decoded = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("context_info").is_some())
        .count();
    assert!(decoded >= 100, "only {decoded} events decoded with fields");
}
