//! Windows Event Trace Log (.etl) reader. See `../shared/docs/etl-format.md`.
pub mod providers;
