//! The command line: argument definitions only. `main.rs` turns them into
//! work; nothing here reads files. It lives in the library so that the man
//! page and completions are generated from this one definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Section;

pub const EXIT_OK: i32 = 0;
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
    /// Print every event of a capture, one line each, in time order
    Events(EventsArgs),
    /// Print each packet's path through the capture points and switches
    Trace(TraceArgs),
    /// Convert a capture (ETL above all) to pcapng for Wireshark and tshark
    Convert(ConvertArgs),
    /// Write a synthetic capture and its ground truth (for trying the tool and for benchmarks)
    Generate(GenerateArgs),
    /// Print a shell completion script (e.g. `overlay-trace completions bash > /etc/bash_completion.d/overlay-trace`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    /// One line per event, like `pktmon etl2txt`
    Text,
    /// One JSON object per line (JSON lines)
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  overlay-trace events PktMon.etl
  overlay-trace events --format json trace.etl | jq 'select(.kind == \"drop\")'")]
pub struct EventsArgs {
    /// Capture files (ETL, pcap, pcapng); `-` reads standard input
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = EventsFormat::Text)]
    pub format: EventsFormat,

    /// Decode other providers' events with this manifest (XML from
    /// `wevtutil gp PROVIDER /ge /gm:true /f:xml`); repeatable
    #[arg(long, value_name = "FILE.xml")]
    pub manifest: Vec<PathBuf>,

    /// Also decode UDP traffic on this port as VXLAN (4789 and 8472 always are)
    #[arg(long, value_name = "PORT")]
    pub vxlan_port: Vec<u16>,

    /// Print no warnings on standard error (the exit status still reports damage)
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// A timeline per packet: time, time since the first hop, kind, where, packet
    Text,
    /// One JSON object per packet path (the report's path objects)
    Json,
    /// A mermaid sequence diagram of the paths
    Mermaid,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  overlay-trace trace capture.etl --flow 3
  overlay-trace trace capture.etl --host 10.255.0.6 --port 80 --format mermaid > path.mmd")]
pub struct TraceArgs {
    /// Capture files (ETL, pcap, pcapng)
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Only packets of this flow (its id in `analyze`)
    #[arg(long, value_name = "ID")]
    pub flow: Option<u64>,

    /// Only packets to or from this address, anywhere on their path
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,

    /// Only packets to or from this port, anywhere on their path
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only packets with this verdict
    #[arg(long, value_name = "VERDICT", value_parser = ["delivered", "dropped", "incomplete"])]
    pub verdict: Option<String>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,

    /// Also decode UDP traffic on this port as VXLAN (4789 and 8472 always are)
    #[arg(long, value_name = "PORT")]
    pub vxlan_port: Vec<u16>,

    /// Print no warnings on standard error
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "One pcapng interface per capture point (ndiscap interface or switch port, pktmon
component); direction in epb_flags, pktmon PktGroupId in epb_packetid, drops in epb_verdict,
process/thread and switch or component details in each packet's comment.

Examples:
  overlay-trace convert PktMon.etl -o PktMon.pcapng
  overlay-trace convert trace.etl -o - | tshark -r - -Y tcp")]
pub struct ConvertArgs {
    /// The capture to convert (ETL, pcap or pcapng)
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,

    /// Output pcapng file; `-` writes to standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Print no warnings on standard error
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// A container host's NIC: plain TCP/UDP beside VXLAN-carried TCP and ICMP flows (pcapng)
    Mix,
    /// Reference scenario A: swarm routing mesh, NAT rewrite inside the switch (ETL)
    RoutingMeshNat,
    /// Reference scenario B: container to container across hosts, VXLAN decapsulation (ETL)
    VxlanDecap,
    /// Reference scenario C: routing mesh across hosts, ARP dropped by VFP (ETL)
    ArpDropVfp,
    /// A randomised swarm host (ETL with NAT, VXLAN and drops, plus the host NIC's pcapng) and its truth
    Swarm,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  overlay-trace generate -o mix.pcapng
  overlay-trace generate --size 1G --flows 2000 --seed 7 -o big.pcapng")]
pub struct GenerateArgs {
    /// What traffic to generate
    #[arg(long, value_enum, default_value_t = Scenario::Mix)]
    pub scenario: Scenario,

    /// Output capture file
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Where to write the ground truth as JSON [default: OUTPUT.truth.json]
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,

    /// Seed of the pseudo-random choices; the same seed writes the same bytes
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Flows open at the same time
    #[arg(long, default_value_t = 200)]
    pub flows: usize,

    /// CPUs whose buffers the ETL spreads events over (swarm)
    #[arg(long, default_value_t = 2)]
    pub cpus: u16,

    /// Compress the ETL's buffers (swarm)
    #[arg(long)]
    pub compress: bool,

    /// Approximate capture size (K, M, G suffixes)
    #[arg(long, default_value = "4M", value_parser = parse_size)]
    pub size: u64,
}

fn parse_size(s: &str) -> Result<u64, String> {
    crate::generate::parse_size(s)
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

    /// Sections to print (repeat or separate with commas); by default all, leaving out empty paths, nat, drops and latency
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
