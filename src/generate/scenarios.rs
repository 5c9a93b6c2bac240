//! The three reference scenarios of scenarios.md as ETL files (being written).

use std::io::{self, Write};

/// Which reference trace to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    RoutingMeshNat,
    VxlanDecap,
    ArpDropVfp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioStats {
    pub events: u64,
}

pub fn write<W: Write>(which: Reference, out: W) -> io::Result<ScenarioStats> {
    let _ = (which, out);
    Err(io::Error::other("reference scenarios are not written yet"))
}
