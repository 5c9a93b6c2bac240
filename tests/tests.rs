//! One integration-test binary; each module covers one area.

#[path = "suite/check.rs"]
mod check;
#[path = "suite/cli.rs"]
mod cli;
#[path = "suite/common.rs"]
mod common;
#[path = "suite/damage.rs"]
mod damage;
#[path = "suite/etl.rs"]
mod etl;
#[path = "suite/etl_events.rs"]
mod etl_events;
#[path = "suite/fast_decode.rs"]
mod fast_decode;
#[path = "suite/generate.rs"]
mod generate;
#[path = "suite/limits.rs"]
mod limits;
#[path = "suite/man.rs"]
mod man;
#[path = "suite/manifest.rs"]
mod manifest;
#[path = "suite/parallel.rs"]
mod parallel;
#[path = "suite/pcapng.rs"]
mod pcapng;
#[path = "suite/props.rs"]
mod props;
#[path = "suite/scenarios.rs"]
mod scenarios;
#[path = "suite/swarm.rs"]
mod swarm;
#[path = "suite/trace.rs"]
mod trace;
#[path = "suite/vxlan.rs"]
mod vxlan;
