//! Following packets: events sorted into per-packet paths (switch NBL
//! lifecycles, captures at several points, pktmon appearances), and what
//! the paths tell: NAT rewrites, drops and the time spent at each hop.

pub mod correlate;
pub mod path;
pub mod summary;

pub use correlate::{CaptureInput, Correlator};
pub use path::{DropNote, Hop, HopKind, PacketPath, Sighting, Verdict};
