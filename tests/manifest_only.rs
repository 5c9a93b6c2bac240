#[path = "suite/manifest.rs"]
mod manifest;

#[test]
#[ignore]
fn dump_records() {
    let path = std::env::var("DUMP").unwrap();
    let mut r = overlay_trace::capture::etl::EtlReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    while let Some(rec) = r.next_record() {
        let Ok(rec) = rec else { continue };
        let key = (rec.provider.map(|g| g.to_string()), rec.id, rec.version);
        let n = seen.entry(key.clone()).or_insert(0);
        *n += 1;
        if *n <= 2 {
            let hex: String = rec.user_data.iter().take(400).map(|b| format!("{b:02x}")).collect();
            println!(
                "{key:?} flags={:#x} ptr={} op={} task={} len={} {hex}",
                rec.flags,
                rec.pointer_size,
                rec.opcode,
                rec.task,
                rec.user_data.len()
            );
        }
    }
    println!("{seen:?}");
}
