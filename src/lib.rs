//! overlay-trace: follow packets through virtual switches, NAT and tunnels.
//!
//! Data flows one way:
//! bytes ([`capture`]) -> events ([`event`]) -> decoded packets ([`packet`])
//! -> per-packet paths ([`trace`]) -> flows ([`flow`]) -> report ([`report`]).
//! [`analyze`] and [`convert`] wire the stages together for their commands;
//! [`check`] and [`diff`] work on reports; [`generate`] writes synthetic
//! captures with their truth; [`cli`] defines the command line.

pub mod analyze;
pub mod background;
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
mod pipeline;
mod prefetch;
pub mod report;
pub mod spill;
#[cfg(test)]
mod test_rng;
pub mod time;
pub mod trace;
