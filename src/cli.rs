//! The command line: argument definitions only. `main.rs` turns them into
//! work; nothing here reads files. It lives in the library so that the man
//! page and completions are generated from this one definition.

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
  1  a check failed (check), or the chosen differences were found (diff)
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
    /// Check a capture against expectations (flows, paths, NAT, drops, latency, health); exit 1 on a failure
    Check(CheckArgs),
    /// Show what changed between two captures or saved JSON reports
    Diff(DiffArgs),
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
pub enum CheckFormat {
    /// A table of every assertion: result, assertion, expected, observed
    Table,
    /// One JSON object with every outcome
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "The expectation file is TOML with [[flow]], [[path]], [[nat]], [[drop]], [[latency]]
tables and a [health] table; tuple patterns read `PROTO SRC[:PORT] -> DST[:PORT]` with `*`
wildcards and match either direction. See fixtures/scenarios/*.expect.toml.

Exit status: 0 every assertion passed, 1 one failed, 2 bad command line or expectation file,
3 an input was unreadable (and nothing failed).

Examples:
  overlay-trace check capture.etl --expect known-good.toml
  overlay-trace check capture.etl --expect known-good.toml --junit check.xml")]
pub struct CheckArgs {
    /// Capture files (ETL, pcap, pcapng)
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// The expectations, as TOML
    #[arg(short, long, value_name = "FILE.toml")]
    pub expect: PathBuf,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,

    /// Also write the outcomes as JUnit XML, for CI systems
    #[arg(long, value_name = "FILE.xml")]
    pub junit: Option<PathBuf>,

    /// Print no warnings on standard error
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Each side is a capture (ETL, pcap, pcapng) or a report saved with
`overlay-trace analyze --format json`. Exit status 1 when a difference of a kind named by
--fail-on is found (any kind by default; `--fail-on none` never fails).

Examples:
  overlay-trace analyze --format json known-good.etl > known-good.json
  overlay-trace diff known-good.json today.etl
  overlay-trace diff known-good.json today.etl --fail-on drops,nat --latency-threshold-us 200")]
pub struct DiffArgs {
    /// The reference: a capture or a JSON report
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// The one to compare with it: a capture or a JSON report
    #[arg(value_name = "B")]
    pub b: PathBuf,

    /// Kinds of differences that make the exit status 1 (comma-separated), or `any` / `none`
    #[arg(long, value_name = "KINDS", value_delimiter = ',', default_value = "any")]
    pub fail_on: Vec<String>,

    /// A hop's p50, p99 or max latency must move by more than this to count
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 50.0)]
    pub latency_threshold_us: f64,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,
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
    /// The mix's traffic as a packet-capture-only ETL (ndiscap 1001 at the host NIC, as `netsh trace
    /// capture=yes` writes it, and what other ETL converters read) and its truth
    CaptureEtl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioVariant {
    /// As the reference trace has it
    None,
    /// The VFP extension drops the SYN instead of the switch routing it
    SynDropped,
    /// The switch maps the client to ingress port 65409, not 65408
    OtherNatPort,
    /// The SYN spends 1 ms longer in the switch
    SlowSwitch,
    /// The buffer holding the SYN-ACK's switch events is lost
    LostBuffer,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  overlay-trace generate -o mix.pcapng
  overlay-trace generate --size 1G --flows 2000 --seed 7 -o big.pcapng
  overlay-trace generate --scenario capture-etl --size 1G --flows 2000 --seed 7 -o big.etl")]
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

    /// Change scenario A deliberately (for trying `check` and `diff`)
    #[arg(long, value_enum, default_value_t = ScenarioVariant::None)]
    pub variant: ScenarioVariant,

    /// CPUs whose buffers the ETL spreads events over (swarm, capture-etl)
    #[arg(long, default_value_t = 2)]
    pub cpus: u16,

    /// Compress the ETL's buffers (swarm, capture-etl)
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

    /// Threads decoding packets and ETL buffers (0: one per core; 1: none
    /// besides the main one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Packet paths followed at once at most (memory: about 3 KB each); past
    /// it the oldest close early, with a warning. 0: no limit
    #[arg(long, value_name = "N", default_value_t = crate::trace::correlate::DEFAULT_MAX_OPEN)]
    pub max_open: usize,

    /// Flows listed at most; packets of flows past it are counted, with a
    /// warning, in no flow. 0: no limit
    #[arg(long, value_name = "N", default_value_t = crate::flow::DEFAULT_MAX_FLOWS)]
    pub max_flows: usize,

    /// Flows, NAT mappings and drops kept in memory, of each (about 0.3 KB a
    /// flow); past it, the least recently used wait in a temporary file in
    /// TMPDIR (about 0.2 KB a flow) until a packet or the report needs them.
    /// 0: keep everything in memory
    #[arg(long, value_name = "N", default_value_t = crate::spill::DEFAULT_IN_MEMORY)]
    pub in_memory: usize,

    /// Print no warnings on standard error (the exit status still reports damage)
    #[arg(short, long)]
    pub quiet: bool,
}
