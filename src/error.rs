//! Errors and warnings that carry the byte offset where a reader gave up.
//!
//! A message reads like
//! `x.pcapng: block @0x1a4: truncated Enhanced Packet Block (need 160, have 136)`:
//! the file, where in it, and what was expected there. Readers return
//! `DecodeError`s; the capture layer wraps them with the path.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong at one offset of a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("truncated {what} (need {need} bytes, have {have})")]
    Truncated { what: String, need: u64, have: u64 },
    #[error("bad magic for {what}: found {found:#x}")]
    BadMagic { what: String, found: u64 },
    #[error("bad length in {what}: {value}")]
    BadLength { what: String, value: u64 },
    #[error("unsupported {what}: {detail}")]
    Unsupported { what: String, detail: String },
    #[error("{0}")]
    Other(String),
}

/// A decoding failure at an absolute file offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Absolute byte offset in the file (or stream) where the bad part starts.
    pub offset: u64,
    /// Where in the structure we were, e.g. "block 12" or "buffer 3 record @0x301a4".
    pub context: String,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub fn new(offset: u64, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, context: String::new(), kind }
    }

    pub fn truncated(offset: u64, what: impl Into<String>, need: u64, have: u64) -> Self {
        Self::new(offset, DecodeErrorKind::Truncated { what: what.into(), need, have })
    }

    pub fn bad_magic(offset: u64, what: impl Into<String>, found: u64) -> Self {
        Self::new(offset, DecodeErrorKind::BadMagic { what: what.into(), found })
    }

    pub fn bad_length(offset: u64, what: impl Into<String>, value: u64) -> Self {
        Self::new(offset, DecodeErrorKind::BadLength { what: what.into(), value })
    }

    pub fn unsupported(offset: u64, what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(offset, DecodeErrorKind::Unsupported { what: what.into(), detail: detail.into() })
    }

    pub fn other(offset: u64, msg: impl Into<String>) -> Self {
        Self::new(offset, DecodeErrorKind::Other(msg.into()))
    }

    /// Prefix the structural position ("block 7", "buffer 3").
    pub fn within(mut self, context: impl Into<String>) -> Self {
        let c = context.into();
        self.context = if self.context.is_empty() { c } else { format!("{c}: {}", self.context) };
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.context.is_empty() {
            write!(f, "@{:#x}: {}", self.offset, self.kind)
        } else {
            write!(f, "{} @{:#x}: {}", self.context, self.offset, self.kind)
        }
    }
}

impl std::error::Error for DecodeError {}

/// Errors that stop reading one capture file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a capture file: {detail} (expected pcap, pcapng or ETL)")]
    UnknownFormat { path: PathBuf, detail: String },
    #[error("{path}: {error}")]
    Decode { path: PathBuf, error: DecodeError },
    /// Writing the result failed (convert's output), not reading.
    #[error("cannot write the output: {source}")]
    Write { source: std::io::Error },
}

impl CaptureError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CaptureError::Io { path: path.to_path_buf(), source }
    }
    pub fn write(source: std::io::Error) -> Self {
        CaptureError::Write { source }
    }
    pub fn decode(path: &Path, error: DecodeError) -> Self {
        CaptureError::Decode { path: path.to_path_buf(), error }
    }
    /// Byte offset of the failure, when there is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Decode { error, .. } => Some(error.offset),
            _ => None,
        }
    }
}

/// A non-fatal problem: something was skipped and reading went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Index of the capture in the inputs, if the warning is about one.
    pub capture: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
