//! Entry point: parse the command line, run the command, map the outcome to
//! an exit status. Results go to stdout, diagnostics to stderr.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use overlay_trace::analyze::{analyze_with_progress, Analysis, AnalyzeOptions, Progress};
use overlay_trace::capture::Capture;
use overlay_trace::error::CaptureError;
use overlay_trace::report::{self, table, Report, Section};

use overlay_trace::cli::{
    self, AnalyzeArgs, CheckArgs, CheckFormat, Cli, Command, ConvertArgs, DiffArgs, EventsArgs, EventsFormat,
    GenerateArgs, OutputFormat, Scenario, TraceArgs, TraceFormat,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { cli::EXIT_USAGE } else { cli::EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let code = match cli.command {
        Command::Analyze(args) => run_analyze(args),
        Command::Check(args) => run_check(args),
        Command::Diff(args) => run_diff(args),
        Command::Events(args) => run_events(args),
        Command::Trace(args) => run_trace(args),
        Command::Convert(args) => run_convert(args),
        Command::Generate(args) => run_generate(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "overlay-trace", &mut std::io::stdout());
            cli::EXIT_OK
        }
    };
    ExitCode::from(code as u8)
}

/// Hands the memory freed after reading back to the system. glibc keeps
/// it in the arena of the thread that freed it, and the report's rows are
/// made on the pool's threads, in their own arenas: without this, keeping a
/// table's rows (up to 24 MB) added to a 4 GiB switching host's peak
/// (127-129 MiB in 4 runs, 124 with it; 121 while reading).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only returns free pages of its own
        // arenas to the system; it takes no pointers and is thread-safe.
        unsafe { malloc_trim(0) };
    }
}

fn run_analyze(args: AnalyzeArgs) -> i32 {
    let mut opts = AnalyzeOptions::default();
    opts.decode.vxlan_ports.extend(&args.vxlan_port);
    opts.decode.geneve_ports.extend(&args.geneve_port);
    opts.max_open = args.max_open;
    opts.max_flows = args.max_flows;
    opts.in_memory = args.in_memory;
    opts.threads = args.threads;
    if args.threads != 0 {
        // Everything else that runs on rayon's shared pool (decompressing
        // ETL buffers ahead, formatting report rows) keeps to it as well.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global();
    }

    let mut sections: Vec<Section> = if args.section.is_empty() { Section::ALL.to_vec() } else { args.section.clone() };
    sections.sort();
    sections.dedup();
    if args.format == OutputFormat::Csv {
        if args.section.is_empty() {
            sections = vec![Section::Flows];
        } else if sections.len() > 1 {
            eprintln!("overlay-trace: csv holds one table; choose one section, e.g. --section flows");
            return cli::EXIT_USAGE;
        }
    }

    let mut analysis =
        with_progress_bar(&args, |report| analyze_with_progress(&args.captures, &opts, Capture::open, report));
    let report = Report::from_analysis_taking_lists(&mut analysis);
    // The report holds all that is printed; the flow table and paths need
    // not stay beside it while it is written.
    let damaged = analysis.has_damage();
    let health = analysis.health;
    drop((analysis.flows, analysis.paths, analysis.captures));
    release_freed_memory();
    if args.section.is_empty() {
        // Sections about paths say nothing for a capture taken at one point;
        // leave them out unless asked for.
        sections.retain(|s| match s {
            Section::Paths => !report.paths.is_empty(),
            Section::Nat => !report.nat.is_empty(),
            Section::Drops => !report.drops.is_empty(),
            Section::Latency => !report.latency.is_empty(),
            _ => true,
        });
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = match args.format {
        OutputFormat::Json => report::json::write(&report, &mut out),
        OutputFormat::Csv => report::csv::write(&report, sections[0], &mut out),
        OutputFormat::Table => table::write(
            &report,
            &sections,
            table::TableOptions { style: table::Style::Terminal, fit_to_terminal: stdout.is_terminal() },
            &mut out,
        ),
        OutputFormat::Markdown => table::write(
            &report,
            &sections,
            table::TableOptions { style: table::Style::Markdown, fit_to_terminal: false },
            &mut out,
        ),
    };
    if let Err(e) = written.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("overlay-trace: cannot write the report: {e}");
            return cli::EXIT_UNREADABLE;
        }
    }
    // The process ends next: freeing the report's rows one by one (the
    // hops of ten thousand listed paths) would only delay its exit.
    std::mem::forget(report);
    if !args.quiet {
        for e in &health.errors {
            eprintln!("overlay-trace: error: {e}");
        }
        for w in health.damage.iter().chain(&health.notes) {
            eprintln!("overlay-trace: warning: {w}");
        }
    }
    if damaged {
        cli::EXIT_UNREADABLE
    } else {
        cli::EXIT_OK
    }
}

fn run_generate(args: GenerateArgs) -> i32 {
    let truth_path = args.truth.clone().unwrap_or_else(|| {
        let mut p = args.output.clone().into_os_string();
        p.push(".truth.json");
        p.into()
    });
    let result = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&args.output)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.output.display()))?;
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        use overlay_trace::generate::scenarios::{self, Reference};
        let reference = match args.scenario {
            Scenario::Mix => None,
            Scenario::RoutingMeshNat => Some(Reference::RoutingMeshNat),
            Scenario::VxlanDecap => Some(Reference::VxlanDecap),
            Scenario::ArpDropVfp => Some(Reference::ArpDropVfp),
            Scenario::Swarm | Scenario::CaptureEtl => None,
        };
        if args.scenario == Scenario::Swarm {
            let opts = overlay_trace::generate::swarm::SwarmOptions {
                seed: args.seed,
                flows: args.flows,
                size: args.size,
                cpus: args.cpus,
                compress: args.compress,
            };
            let truth = overlay_trace::generate::swarm::write(&args.output, &truth_path, &opts)?;
            eprintln!("overlay-trace: wrote {} and {}: {}", args.output.display(), truth_path.display(), truth);
            return Ok(());
        }
        if let Some(r) = reference {
            use overlay_trace::cli::ScenarioVariant as V;
            let variant = match args.variant {
                V::None => scenarios::Variant::None,
                V::SynDropped => scenarios::Variant::SynDropped,
                V::OtherNatPort => scenarios::Variant::OtherNatPort,
                V::SlowSwitch => scenarios::Variant::SlowSwitch,
                V::LostBuffer => scenarios::Variant::LostBuffer,
            };
            let stats = scenarios::write_variant(r, variant, out)?;
            eprintln!("overlay-trace: wrote {} ({} events)", args.output.display(), stats.events);
            return Ok(());
        }
        let mix =
            overlay_trace::generate::mix::MixOptions { seed: args.seed, concurrent_flows: args.flows, size: args.size };
        let truth = if args.scenario == Scenario::CaptureEtl {
            let opts =
                overlay_trace::generate::capture::CaptureOptions { mix, cpus: args.cpus, compress: args.compress };
            overlay_trace::generate::capture::write(out, &opts)?.0
        } else {
            overlay_trace::generate::mix::write(out, &mix)?
        };
        let json = serde_json::to_string_pretty(&truth)?;
        std::fs::write(&truth_path, json + "\n")
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", truth_path.display()))?;
        eprintln!(
            "overlay-trace: wrote {} ({} packets, {} flows) and {}",
            args.output.display(),
            truth.packets,
            truth.flows.len(),
            truth_path.display()
        );
        Ok(())
    })();
    match result {
        Ok(()) => cli::EXIT_OK,
        Err(e) => {
            eprintln!("overlay-trace: error: {e}");
            cli::EXIT_UNREADABLE
        }
    }
}

/// Inputs smaller than this finish before a bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Runs `work` with a progress bar on stderr when stderr is a terminal, the
/// inputs are large and `--quiet` is off; the bar is cleared at the end so
/// that only warnings remain on stderr.
fn with_progress_bar(args: &AnalyzeArgs, work: impl FnOnce(&mut dyn FnMut(Progress)) -> Analysis) -> Analysis {
    let sizes: Vec<u64> = args
        .captures
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| if m.is_file() { m.len() } else { 0 }).unwrap_or(0))
        .collect();
    let total: u64 = sizes.iter().sum();
    if args.quiet || !std::io::stderr().is_terminal() || total < PROGRESS_MIN_BYTES {
        return work(&mut |_| {});
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let before: Vec<u64> = sizes
        .iter()
        .scan(0, |acc, s| {
            let b = *acc;
            *acc += s;
            Some(b)
        })
        .collect();
    let analysis = work(&mut |p: Progress| bar.set_position(before.get(p.capture).copied().unwrap_or(0) + p.offset));
    bar.finish_and_clear();
    analysis
}

fn run_events(args: EventsArgs) -> i32 {
    let mut decode = overlay_trace::packet::DecodeConfig::default();
    decode.vxlan_ports.extend(&args.vxlan_port);
    let mut manifest: Option<overlay_trace::capture::etl::manifest::Manifest> = None;
    for path in &args.manifest {
        match overlay_trace::capture::etl::manifest::Manifest::from_file(path) {
            Ok(m) => match manifest.as_mut() {
                Some(all) => all.merge(m),
                None => manifest = Some(m),
            },
            Err(e) => {
                eprintln!("overlay-trace: error: {e}");
                return cli::EXIT_USAGE;
            }
        }
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut damaged = false;
    for (index, path) in args.captures.iter().enumerate() {
        let mut capture = match Capture::open(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("overlay-trace: error: {e}");
                damaged = true;
                continue;
            }
        };
        let os_build = capture.os_build();
        loop {
            let line = match capture.next_with_points() {
                Ok(Some((ev, points))) => {
                    let ctx = report::events::Context {
                        capture: index,
                        points,
                        os_build,
                        decode: &decode,
                        manifest: manifest.as_ref(),
                    };
                    match args.format {
                        EventsFormat::Text => report::events::text_line(&ev, &ctx),
                        EventsFormat::Json => report::events::json_line(&ev, &ctx),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("overlay-trace: error: {e}");
                    damaged = true;
                    break;
                }
            };
            if writeln!(out, "{line}").is_err() {
                return cli::EXIT_OK; // the reader of our output went away
            }
        }
        let warnings = capture.take_warnings();
        damaged |= !warnings.is_empty();
        if !args.quiet {
            for w in warnings {
                eprintln!("overlay-trace: warning: {w}");
            }
        }
    }
    let _ = out.flush();
    if damaged {
        cli::EXIT_UNREADABLE
    } else {
        cli::EXIT_OK
    }
}

fn run_convert(args: ConvertArgs) -> i32 {
    let out: Box<dyn Write + Send> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        match std::fs::File::create(&args.output) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("overlay-trace: error: cannot create {}: {e}", args.output.display());
                return cli::EXIT_UNREADABLE;
            }
        }
    };
    let out = match overlay_trace::background::BackgroundWriter::new(out, 1 << 20) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("overlay-trace: error: cannot start writing {}: {e}", args.output.display());
            return cli::EXIT_UNREADABLE;
        }
    };
    match overlay_trace::convert::convert(&args.capture, out) {
        Ok((stats, _)) => {
            if !args.quiet {
                for w in &stats.warnings {
                    eprintln!("overlay-trace: warning: {w}");
                }
                if let Some(e) = &stats.error {
                    eprintln!("overlay-trace: error: {e}");
                }
                eprintln!(
                    "overlay-trace: wrote {} packets on {} interfaces to {} ({} other events not converted)",
                    stats.packets,
                    stats.interfaces,
                    args.output.display(),
                    stats.other_events
                );
            }
            if stats.error.is_some() || !stats.warnings.is_empty() {
                cli::EXIT_UNREADABLE
            } else {
                cli::EXIT_OK
            }
        }
        // A reader that stopped early (`convert -o - | tshark ... | head`)
        // is not a failure, as for analyze.
        Err(CaptureError::Write { source }) if source.kind() == std::io::ErrorKind::BrokenPipe => cli::EXIT_OK,
        Err(CaptureError::Write { source }) => {
            eprintln!("overlay-trace: error: cannot write {}: {source}", args.output.display());
            cli::EXIT_UNREADABLE
        }
        Err(e) => {
            eprintln!("overlay-trace: error: {e}");
            cli::EXIT_UNREADABLE
        }
    }
}

fn run_trace(args: TraceArgs) -> i32 {
    let mut opts = AnalyzeOptions::default();
    opts.decode.vxlan_ports.extend(&args.vxlan_port);
    let analysis = analyze_with_progress(&args.captures, &opts, Capture::open, &mut |_| {});
    let report = Report::from_analysis(&analysis);
    let touches = |p: &report::PathRow| {
        p.hops.iter().filter_map(|h| h.tuple.as_ref()).any(|t| {
            args.host.as_ref().is_none_or(|a| &t.src == a || &t.dst == a)
                && args.port.is_none_or(|port| t.src_port == Some(port) || t.dst_port == Some(port))
        })
    };
    let selected: Vec<(usize, &report::PathRow)> = report
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (i + 1, p))
        .filter(|(_, p)| args.flow.is_none_or(|f| p.flow_id == Some(f)))
        .filter(|(_, p)| args.verdict.as_deref().is_none_or(|v| p.verdict == v))
        .filter(|(_, p)| (args.host.is_none() && args.port.is_none()) || touches(p))
        .collect();
    let text = match args.format {
        TraceFormat::Text => report::timeline::text(&selected),
        TraceFormat::Mermaid => report::timeline::mermaid(&selected),
        TraceFormat::Json => {
            selected.iter().map(|(_, p)| serde_json::to_string(p).unwrap_or_default() + "\n").collect()
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    if !args.quiet {
        if selected.is_empty() {
            eprintln!(
                "overlay-trace: no packet path matched ({} paths in all; a path needs a packet seen at two points or more)",
                report.paths.len()
            );
        }
        for w in analysis.health.warnings() {
            eprintln!("overlay-trace: warning: {w}");
        }
    }
    if analysis.has_damage() {
        cli::EXIT_UNREADABLE
    } else {
        cli::EXIT_OK
    }
}

fn run_check(args: CheckArgs) -> i32 {
    let expectations = match overlay_trace::check::Expectations::from_file(&args.expect) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("overlay-trace: error: {e}");
            return cli::EXIT_USAGE;
        }
    };
    let analysis = analyze_with_progress(&args.captures, &AnalyzeOptions::default(), Capture::open, &mut |_| {});
    let report = Report::from_analysis(&analysis);
    let outcomes = match overlay_trace::check::evaluate(&expectations, &report) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("overlay-trace: error: {}: {e}", args.expect.display());
            return cli::EXIT_USAGE;
        }
    };
    let failed = outcomes.iter().filter(|o| !o.pass).count();
    let passed = outcomes.len() - failed;
    let text = match args.format {
        CheckFormat::Json => {
            serde_json::json!({ "passed": passed, "failed": failed, "outcomes": outcomes }).to_string() + "\n"
        }
        CheckFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::ASCII_BORDERS_ONLY_CONDENSED);
            t.set_header(["RESULT", "ASSERTION", "EXPECTED", "OBSERVED"]);
            for o in &outcomes {
                t.add_row([if o.pass { "pass" } else { "FAIL" }, &o.assertion, &o.expected, &o.observed]);
            }
            format!("{t}\n{passed} passed, {failed} failed\n")
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    if let Some(path) = &args.junit {
        let suite = args.expect.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "check".into());
        if let Err(e) = std::fs::write(path, overlay_trace::check::junit(&outcomes, &suite)) {
            eprintln!("overlay-trace: error: cannot write {}: {e}", path.display());
            return cli::EXIT_UNREADABLE;
        }
    }
    if !args.quiet {
        for w in analysis.health.warnings() {
            eprintln!("overlay-trace: warning: {w}");
        }
    }
    if failed > 0 {
        cli::EXIT_CHECK_FAILED
    } else if analysis.has_damage() {
        cli::EXIT_UNREADABLE
    } else {
        cli::EXIT_OK
    }
}

/// A side of `diff`: a saved JSON report, or a capture analyzed now.
fn report_value(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let head = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let v: serde_json::Value =
            serde_json::from_slice(&head).map_err(|e| format!("{}: not a JSON report: {e}", path.display()))?;
        if v.get("schema").and_then(|s| s.as_str()) != Some(report::SCHEMA) {
            return Err(format!(
                "{}: not an overlay-trace report (expected schema {})",
                path.display(),
                report::SCHEMA
            ));
        }
        return Ok(v);
    }
    let analysis = analyze_with_progress(&[path.to_path_buf()], &AnalyzeOptions::default(), Capture::open, &mut |_| {});
    for e in &analysis.health.errors {
        eprintln!("overlay-trace: error: {e}");
    }
    serde_json::to_value(Report::from_analysis(&analysis)).map_err(|e| e.to_string())
}

fn run_diff(args: DiffArgs) -> i32 {
    use overlay_trace::diff::Category;
    let mut fail_on = Vec::new();
    for k in &args.fail_on {
        match k.as_str() {
            "any" => fail_on.extend([
                Category::Flows,
                Category::Paths,
                Category::Drops,
                Category::Nat,
                Category::Latency,
                Category::Health,
            ]),
            "none" => {}
            other => match <Category as clap::ValueEnum>::from_str(other, true) {
                Ok(c) => fail_on.push(c),
                Err(_) => {
                    eprintln!("overlay-trace: error: --fail-on takes flows, paths, drops, nat, latency, health, any or none, not '{other}'");
                    return cli::EXIT_USAGE;
                }
            },
        }
    }
    let (a, b) = match (report_value(&args.a), report_value(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("overlay-trace: error: {e}");
            return cli::EXIT_UNREADABLE;
        }
    };
    let changes = overlay_trace::diff::diff(&a, &b, args.latency_threshold_us);
    let text = match args.format {
        CheckFormat::Json => serde_json::json!({ "changes": changes }).to_string() + "\n",
        CheckFormat::Table if changes.is_empty() => "no differences\n".to_string(),
        CheckFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::ASCII_BORDERS_ONLY_CONDENSED);
            t.set_header(["KIND", "CHANGE", "WHAT", "IN A", "IN B"]);
            for c in &changes {
                t.add_row([
                    c.category.name(),
                    c.change,
                    &c.what,
                    c.a.as_deref().unwrap_or("-"),
                    c.b.as_deref().unwrap_or("-"),
                ]);
            }
            format!("{t}\n")
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    if changes.iter().any(|c| fail_on.contains(&c.category)) {
        cli::EXIT_CHECK_FAILED
    } else {
        cli::EXIT_OK
    }
}
