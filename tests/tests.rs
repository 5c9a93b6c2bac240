//! One integration-test binary; each module covers one area.

#[path = "suite/common.rs"]
mod common;
#[path = "suite/pcapng.rs"]
mod pcapng;
#[path = "suite/vxlan.rs"]
mod vxlan;
