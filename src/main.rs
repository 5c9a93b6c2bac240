//! Entry point: parse the command line, run the command, map the outcome to
//! an exit status. Results go to stdout, diagnostics to stderr.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::report::{self, table, Report, Section};

mod cli;
use cli::{AnalyzeArgs, Cli, Command, OutputFormat};

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
    };
    ExitCode::from(code as u8)
}

fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).or(Some(120))
}

fn run_analyze(args: AnalyzeArgs) -> i32 {
    let mut opts = AnalyzeOptions::default();
    opts.decode.vxlan_ports.extend(&args.vxlan_port);
    opts.decode.geneve_ports.extend(&args.geneve_port);

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

    let analysis = analyze(&args.captures, &opts);
    let report = Report::from_analysis(&analysis);
    let text = match args.format {
        OutputFormat::Json => report::json::render(&report),
        OutputFormat::Csv => report::csv::render(&report, sections[0]),
        OutputFormat::Table => table::render(
            &report,
            &sections,
            table::TableOptions { style: table::Style::Terminal, width: terminal_width() },
        ),
        OutputFormat::Markdown => {
            table::render(&report, &sections, table::TableOptions { style: table::Style::Markdown, width: None })
        }
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("overlay-trace: cannot write the report: {e}");
            return cli::EXIT_UNREADABLE;
        }
    }
    if !args.quiet {
        let h = &analysis.health;
        for e in &h.errors {
            eprintln!("overlay-trace: error: {e}");
        }
        for w in h.damage.iter().chain(&h.notes) {
            eprintln!("overlay-trace: warning: {w}");
        }
    }
    if analysis.has_damage() {
        cli::EXIT_UNREADABLE
    } else {
        cli::EXIT_OK
    }
}
