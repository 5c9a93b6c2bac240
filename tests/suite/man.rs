//! The man pages in man/ are generated from the CLI definition and kept
//! current: this test renders them again and compares. Run with
//! UPDATE_GOLDEN=1 to rewrite them after changing the CLI.

use clap::CommandFactory;

use overlay_trace::cli::Cli;

use super::common::crate_root;

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out).unwrap();
    out
}

#[test]
fn man_pages_match_the_cli() {
    let top = Cli::command();
    let mut pages = vec![("overlay-trace.1".to_string(), render(top.clone()))];
    for sub in top.get_subcommands() {
        // clap names are &'static str without its "string" feature; a test may leak.
        let name: &'static str = Box::leak(format!("overlay-trace-{}", sub.get_name()).into_boxed_str());
        let usage_name = format!("overlay-trace {}", sub.get_name());
        pages.push((format!("{name}.1"), render(sub.clone().name(name).bin_name(usage_name))));
    }
    let dir = crate_root().join("man");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for (file, bytes) in &pages {
        let path = dir.join(file);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, bytes).unwrap();
        } else if std::fs::read(&path).ok().as_ref() != Some(bytes) {
            stale.push(file.clone());
        }
    }
    assert!(stale.is_empty(), "man pages out of date: {stale:?}; run UPDATE_GOLDEN=1 cargo test man_pages");
}

#[test]
fn completions_know_every_subcommand() {
    let out = assert_cmd::Command::cargo_bin("overlay-trace").unwrap().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    for word in ["analyze", "generate", "--vxlan-port", "--format"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish", "powershell"] {
        let out =
            assert_cmd::Command::cargo_bin("overlay-trace").unwrap().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}
