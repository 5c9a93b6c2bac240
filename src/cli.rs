//! The command line: argument definitions only. `main.rs` turns them into
//! work; nothing here reads files.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Section;

pub const EXIT_OK: i32 = 0;
pub const EXIT_CHECK_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREADABLE: i32 = 3;

const AFTER_HELP: &str = "\
Exit status:
  0  the report was written and every input was read to its end
  1  a check failed
  2  the command line was wrong
  3  an input could not be opened or was damaged (the report still covers everything readable)

Examples:
  overlay-trace analyze fixtures/vxlan-icmp.pcap
  overlay-trace analyze --format json capture.pcapng > report.json
  overlay-trace analyze --section flows --format csv host1.pcapng host2.pcapng
  overlay-trace analyze --vxlan-port 6080 firewall.pcap";

#[derive(Debug, Parser)]
#[command(
    name = "overlay-trace",
    version,
    about = "Follow packets through virtual switches, NAT and VXLAN/Geneve tunnels",
    long_about = "Reads packet traces (pcap, pcapng; Windows ETL next) and reports every flow with its \
                  tunnel, packet and byte counts per direction, TCP state and capture health, as \
                  paste-friendly tables, markdown, JSON or CSV.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report flows and capture health for one or more captures
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text tables (fitted to the terminal, full width when piped)
    Table,
    /// Markdown tables, one per section
    Markdown,
    /// One JSON object, schema overlay-trace/report/v1
    Json,
    /// Comma-separated values of one section (flows unless --section says otherwise)
    Csv,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed); `-` reads standard input
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Sections to print (repeat or separate with commas); all by default
    #[arg(short, long, value_enum, value_delimiter = ',')]
    pub section: Vec<Section>,

    /// Also decode UDP traffic on this port as VXLAN (4789 and 8472 always are)
    #[arg(long, value_name = "PORT")]
    pub vxlan_port: Vec<u16>,

    /// Also decode UDP traffic on this port as Geneve (6081 always is)
    #[arg(long, value_name = "PORT")]
    pub geneve_port: Vec<u16>,

    /// Print no warnings on standard error (the exit status still reports damage)
    #[arg(short, long)]
    pub quiet: bool,
}
