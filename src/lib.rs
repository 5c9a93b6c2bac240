//! overlay-trace: follow packets through virtual switches, NAT and tunnels.
//!
//! Data flows one way:
//! bytes ([`capture`]) -> events ([`event`]) -> decoded packets ([`packet`])
//! -> flows ([`flow`]) -> report ([`report`]).
//! [`analyze`] wires the stages together for the `analyze` command.

pub mod analyze;
pub mod capture;
pub mod check;
pub mod cli;
pub mod convert;
pub mod diff;
pub mod error;
pub mod event;
pub mod flow;
pub mod generate;
pub mod packet;
pub mod report;
pub mod time;
pub mod trace;
