//! Helpers shared by the test modules: where the corpus and fixtures are.

use std::path::{Path, PathBuf};

pub fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    crate_root().join("fixtures")
}

/// The shared corpus of real captures, when this checkout has it beside it.
pub fn corpus() -> Option<PathBuf> {
    let p = crate_root().join("../shared/corpus");
    p.is_dir().then_some(p)
}

/// Every file under `dir`, recursively, sorted.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Finds a capture by file name: the bundled fixture first, then the corpus.
pub fn find_capture(name: &str) -> Option<PathBuf> {
    let bundled = walk(&fixtures()).into_iter().find(|p| p.file_name().is_some_and(|n| n == name));
    if bundled.is_some() {
        return bundled;
    }
    corpus().and_then(|c| walk(&c).into_iter().find(|p| p.file_name().is_some_and(|n| n == name)))
}
