//! The command as a user runs it: exit statuses, stdout/stderr separation,
//! output formats.

use assert_cmd::Command;
use serde_json::Value;

use super::common::fixtures;

fn cmd() -> Command {
    Command::cargo_bin("overlay-trace").unwrap()
}

fn vxlan_fixture() -> String {
    fixtures().join("vxlan/the-tcpdump-group_tcpdump__vxlan.pcap").display().to_string()
}

#[test]
fn analyze_table_on_a_fixture() {
    let out = cmd().args(["analyze", &vxlan_fixture()]).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FLOWS (2)"), "{text}");
    assert!(text.contains("192.168.203.1:45149 -> 192.168.202.1:4789"), "{text}");
    assert!(!text.contains('\x1b'), "no escape codes when piped");
    assert!(out.stderr.is_empty());
}

#[test]
fn json_has_every_schema_key() {
    let out = cmd().args(["analyze", "--format", "json", &vxlan_fixture()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "overlay-trace/report/v1");
    for key in ["captures", "flows", "paths", "nat", "drops", "latency", "health"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let flow = &v["flows"][0];
    for key in [
        "id",
        "proto",
        "src",
        "src_port",
        "dst",
        "dst_port",
        "tunnel",
        "packets_fwd",
        "packets_rev",
        "bytes_fwd",
        "bytes_rev",
        "first_seen",
        "last_seen",
        "tcp",
        "sightings",
    ] {
        assert!(flow.get(key).is_some(), "flow lacks {key}");
    }
    assert_eq!(flow["tunnel"]["vni"], 100);
    assert!(flow["first_seen"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn csv_of_flows() {
    let out = cmd().args(["analyze", "-f", "csv", &vxlan_fixture()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,proto,src,src_port,dst,dst_port,tunnel_kind,vni"));
    assert_eq!(lines.count(), 2);
}

#[test]
fn csv_refuses_several_sections() {
    let out = cmd().args(["analyze", "-f", "csv", "-s", "flows,captures", &vxlan_fixture()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--section"));
}

#[test]
fn markdown_sections() {
    let out = cmd().args(["analyze", "-f", "markdown", &vxlan_fixture()]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("## flows") && text.contains("| ID "), "{text}");
}

#[test]
fn damaged_input_reports_what_it_read_and_exits_3() {
    let path = fixtures().join("pcap/google_gopacket_le__test901.pcapng");
    let out = cmd().args(["analyze", "-s", "captures", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("damaged"), "{stdout}");
    assert!(stderr.contains("google_gopacket_le__test901.pcapng") && stderr.contains("@0x1ec"), "{stderr}");
}

#[test]
fn not_a_capture() {
    let path = fixtures().join("README.md");
    let out = cmd().args(["analyze", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a capture file"));
}

#[test]
fn missing_file_and_bad_usage() {
    let out = cmd().args(["analyze", "/nonexistent.pcap"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.pcap"));
    let out = cmd().args(["analyze", "--format", "yaml", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cmd().args(["analyze"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(vxlan_fixture()).unwrap();
    let out = cmd().args(["analyze", "-f", "csv", "-"]).write_stdin(bytes).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);
}

#[test]
fn generate_then_analyze() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out_file = dir.join("mix.pcapng");
    let st = cmd().args(["generate", "--size", "200K", "-o", out_file.to_str().unwrap()]).output().unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", String::from_utf8_lossy(&st.stderr));
    let truth: Value = serde_json::from_slice(&std::fs::read(dir.join("mix.pcapng.truth.json")).unwrap()).unwrap();
    let out = cmd().args(["analyze", "-f", "json", out_file.to_str().unwrap()]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["flows"].as_array().unwrap().len(), truth["flows"].as_array().unwrap().len());
}

/// The sample in the README is what the README's first command prints.
#[test]
fn readme_sample_is_current() {
    let readme = std::fs::read_to_string(super::common::crate_root().join("README.md")).unwrap();
    let after = readme.split("The first command prints").nth(1).expect("README sample");
    let sample = after.split("```\n").nth(1).expect("sample block");
    let out = cmd()
        .current_dir(super::common::crate_root())
        .args(["analyze", "fixtures/scenarios/routing-mesh-nat.etl"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), sample);
}

#[test]
fn trace_prints_timelines_and_mermaid() {
    let etl = fixtures().join("etl/microsoft_demikernel__PktMon.etl");
    let out = cmd().args(["trace", etl.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    // 38 ICMP packets: 19 inbound seen twice, 19 outbound seen four times.
    assert_eq!(text.lines().filter(|l| l.starts_with("packet ")).count(), 38);
    assert_eq!(text.lines().filter(|l| l.contains("appearance mlx5.sys")).count(), 19);
    let out = cmd().args(["trace", "-f", "mermaid", "--verdict", "delivered", etl.to_str().unwrap()]).output().unwrap();
    let m = String::from_utf8(out.stdout).unwrap();
    assert!(m.starts_with("sequenceDiagram\n") && m.contains("participant P3 as mlx5.sys"), "{m}");
    let out = cmd().args(["trace", "-f", "json", "--host", "10.9.1.99", etl.to_str().unwrap()]).output().unwrap();
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no packet path matched"));
}

/// A reader that stops early (`| head`) is not an error: no message, exit 0,
/// in every output format of analyze, and for convert to standard output.
#[test]
fn closed_stdout_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let capture = dir.join("mix.pcapng");
    cmd().args(["generate", "--size", "2M", "--flows", "400", "-o"]).arg(&capture).assert().success();
    let runs = ["json", "table", "markdown", "csv"].map(|f| vec!["analyze", "--format", f]);
    let runs = runs.into_iter().chain([vec!["convert", "-o", "-"]]);
    for args in runs {
        let format = args.join(" ");
        let mut child = Std::new(assert_cmd::cargo::cargo_bin("overlay-trace"))
            .args(&args)
            .arg(&capture)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little, then close the pipe while the report is still coming.
        let mut first = [0u8; 16];
        child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("cannot write") && !stderr.contains("Broken pipe"), "{format}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
    }
}
