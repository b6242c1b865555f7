//! The `duban` binary: parses the command line, sets up logging, and hands over to
//! `duban::commands`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate};
use clap::{Args, Parser, Subcommand};
use duban::commands;
use duban::commands::records::Tally;

#[derive(Parser)]
#[command(
    name = "duban",
    version,
    about = "督办: supervision of construction-project approvals"
)]
struct Cli {
    /// The config file (default: $DUBAN_CONFIG, else config/duban.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll the feeds, keep every item graded, serve the API.
    Serve,
    /// Run the simulator and the daemon together on a demo store (data/demo) and print the
    /// URLs to open.
    Demo {
        /// Address the pages and screens are served on, instead of the config's
        /// `server.listen` (0.0.0.0:8080 opens them to the other machines of the network).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Serve a realistic, changing approval system (canonical and Chinese formats).
    Simulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Items in the city at the start (about 8 per project).
        #[arg(long, default_value_t = 2400)]
        items: u64,
        /// Seed of the generated city.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Seconds between changes.
        #[arg(long, default_value_t = 3)]
        tick_seconds: u64,
    },
    /// Check a config file and everything it points at (feeds' mappings too); exit 0 when
    /// good, 1 when not.
    CheckConfig {
        /// Then fetch one page of this feed (storing nothing, moving no file) and show how
        /// its first records map; exit 2 if some would be quarantined.
        #[arg(long, value_name = "NAME")]
        feed: Option<String>,
    },
    /// Print each date of a range as `YYYY-MM-DD workday` or `YYYY-MM-DD rest` (followed by
    /// `provisional` in a year counted without its notice), or with --draft a year's
    /// provisional holidays file to correct from the State Council's notice.
    Calendar {
        #[arg(
            long,
            value_name = "YYYY-MM-DD",
            required_unless_present = "draft",
            requires = "to"
        )]
        from: Option<NaiveDate>,
        #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
        to: Option<NaiveDate>,
        /// Print YEAR's holidays as the statutory rules give them, without 调休, in the
        /// holidays file format (save it as <holidays_dir>/YEAR.toml and correct it).
        #[arg(long, value_name = "YEAR", conflicts_with_all = ["from", "to"])]
        draft: Option<i32>,
    },
    /// Grade canonical item records (JSON lines) as of an instant; exit 2 if some lines
    /// could not be graded (their error objects are in the output).
    Grade(RecordsArgs),
    /// Grade each project's government time against its category's target; exit 2 if some
    /// lines or projects could not be graded.
    Projects(RecordsArgs),
    /// The ledger (电子台账): its table of a period, by project.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Rankings (月度通报, 季度考核): a period's report from the configured store.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Warnings (预警): try a configured sender before going live.
    Warnings {
        #[command(subcommand)]
        command: WarningsCommand,
    },
    /// The contacts warnings go to (handlers, heads, the office, stewards, leaders).
    Contacts {
        #[command(subcommand)]
        command: ContactsCommand,
    },
    /// Write a realistic, deterministic sample of canonical item records (JSON lines).
    Sample {
        #[command(flatten)]
        now: Now,
        /// How many items.
        #[arg(long, default_value_t = 300)]
        count: u64,
        /// Seed: the same seed and instant give the same items.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum WarningsCommand {
    /// Send one test message through a configured sender and print the outcome and the
    /// provider's answer (exit 0 when accepted, 1 when not). Nothing is stored.
    Test {
        /// The sender's name (`[[warnings.senders]] name`).
        #[arg(long, value_name = "NAME")]
        sender: String,
        /// A mobile number (SMS), an email address (email); ignored by chat robots.
        #[arg(long, value_name = "ADDRESS", default_value = "")]
        to: String,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A month's report (月度通报).
    Monthly {
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Two months' report (双月考核); 2026B5 is September and October.
    Bimonthly {
        #[arg(long, value_name = "YYYYBn")]
        bimonth: String,
        #[command(flatten)]
        output: ReportOutput,
    },
    /// A quarter's assessment (季度考核), with grades 优秀 / 良好 / 合格 / 不合格.
    Quarterly {
        #[arg(long, value_name = "YYYYQn")]
        quarter: String,
        #[command(flatten)]
        output: ReportOutput,
    },
    /// A year's assessment.
    Yearly {
        #[arg(long, value_name = "YYYY")]
        year: String,
        #[command(flatten)]
        output: ReportOutput,
    },
}

#[derive(Args)]
struct ReportOutput {
    /// html (prints on A4), xlsx, png or json; default: the ending of --out.
    #[arg(long, value_enum)]
    format: Option<duban::rankings::output::Format>,
    /// The file to write, replaced if it exists.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// The data's time: a period not over yet is reported so far.
    #[command(flatten)]
    now: Now,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Write the period's table as a workbook (sheets 台账 and 等级变化), reading the
    /// configured store a page of projects at a time; every item as its record stood at the
    /// end of the period, graded as of then (or today, for a period not over).
    Export {
        /// The period's first day.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        from: NaiveDate,
        /// The period's last day (included).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        to: NaiveDate,
        /// The workbook to write (F.xlsx), replaced if it exists.
        #[arg(long, value_name = "F.xlsx")]
        out: PathBuf,
        /// Only projects whose code or name contains this.
        #[arg(long, value_name = "TEXT")]
        project: Option<String>,
        /// Only this department's items (its exact name).
        #[arg(long, value_name = "NAME")]
        department: Option<String>,
        /// What today is: a period not over yet is graded on it (and stated as exported then).
        #[command(flatten)]
        now: Now,
    },
}

#[derive(Subcommand)]
enum ContactsCommand {
    /// Check a contacts CSV (UTF-8 or GBK; columns 角色, 部门, 项目代码, 姓名, 手机, 邮箱 or
    /// role, department, project_code, name, mobile, email) and replace every stored contact
    /// with its rows. With any bad row, each is printed as FILE:LINE: reason, nothing is
    /// changed, and the exit status is 2.
    Import {
        /// The contacts file.
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
}

#[derive(Args)]
struct Now {
    /// The instant, RFC 3339 (default: the current time).
    #[arg(long = "now", value_parser = parse_instant, value_name = "RFC3339")]
    at: Option<DateTime<FixedOffset>>,
}

impl Now {
    fn instant(&self) -> DateTime<FixedOffset> {
        self.at
            .unwrap_or_else(|| chrono::Local::now().fixed_offset())
    }
}

#[derive(Args)]
struct RecordsArgs {
    #[command(flatten)]
    now: Now,
    /// JSON-lines file of canonical item records, or - for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
}

fn parse_instant(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{e}; expected an RFC 3339 time like 2026-11-25T09:00:00+08:00"))
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{e}; expected a date like 2026-11-01"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DUBAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(code) => code,
        // A reader that stopped early (`duban grade … | head`) is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duban: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                .is_some_and(|kind| kind == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    match cli.command {
        Command::Serve => {
            let (config, calendar) = commands::load(config)?;
            runtime()?.block_on(commands::serve::run(config, calendar))?;
        }
        Command::Demo { listen } => {
            let (mut config, calendar) = commands::demo::load(config)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            runtime()?.block_on(commands::demo::run(config, calendar))?;
        }
        Command::Simulate {
            listen,
            items,
            seed,
            tick_seconds,
        } => {
            let (config, calendar) = commands::load_offline(config)?;
            let options = commands::simulate::CityOptions {
                epoch: chrono::Utc::now(),
                items,
                seed,
                tick: std::time::Duration::from_secs(tick_seconds.max(1)),
                state: None,
            };
            runtime()?.block_on(commands::simulate::run(config, calendar, listen, options))?;
        }
        Command::CheckConfig { feed } => {
            // An operator's check: the machine's clock.
            let clock = duban::clock::Clock::System;
            let config = commands::check_config::run(config, &clock, &mut out)?;
            if let Some(name) = feed {
                let look = runtime()?.block_on(commands::check_config::feed(
                    &config, &name, &clock, &mut out,
                ))?;
                if look.quarantined > 0 {
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Calendar { from, to, draft } => match (draft, from.zip(to)) {
            (Some(year), _) => commands::calendar::draft(year, &mut out)?,
            (None, Some((from, to))) => {
                let (_, calendar) = commands::load_offline(config)?;
                commands::calendar::run(&calendar, from, to, &mut out)?;
            }
            (None, None) => anyhow::bail!("give --from and --to, or --draft YEAR"),
        },
        Command::Grade(args) => {
            let (config, calendar) = commands::load_offline(config)?;
            let input = open_input(&args.file)?;
            let tally =
                commands::grade::run(&config, &calendar, args.now.instant(), input, &mut out)?;
            return Ok(report(tally, "items"));
        }
        Command::Projects(args) => {
            let (config, calendar) = commands::load_offline(config)?;
            let input = open_input(&args.file)?;
            let tally =
                commands::projects::run(&config, &calendar, args.now.instant(), input, &mut out)?;
            return Ok(report(tally, "projects"));
        }
        Command::Ledger {
            command:
                LedgerCommand::Export {
                    from,
                    to,
                    out,
                    project,
                    department,
                    now,
                },
        } => {
            let (config, calendar) = commands::load_offline(config)?;
            let options = commands::ledger::ExportOptions {
                from,
                to,
                out,
                filter: duban::store::ledger::LedgerFilter {
                    project,
                    department,
                },
            };
            let exported = runtime()?.block_on(commands::ledger::export(
                &config,
                &calendar,
                &options,
                now.instant().to_utc(),
            ))?;
            eprintln!(
                "duban: {}",
                commands::ledger::summary(&exported, &options.out)
            );
        }
        Command::Report { command } => {
            use duban::rankings::Span;
            let (key, output, span, flag) = match &command {
                ReportCommand::Monthly { month, output } => {
                    (month, output, Span::Month, "--month 2026-10")
                }
                ReportCommand::Bimonthly { bimonth, output } => {
                    (bimonth, output, Span::Bimonth, "--bimonth 2026B5")
                }
                ReportCommand::Quarterly { quarter, output } => {
                    (quarter, output, Span::Quarter, "--quarter 2026Q3")
                }
                ReportCommand::Yearly { year, output } => (year, output, Span::Year, "--year 2026"),
            };
            let period = duban::rankings::Period::parse(key)?;
            if period.span != span {
                anyhow::bail!(
                    "{key} is a {} but this report is a {}: write {flag}, or use the report of that period",
                    period.span.as_str(),
                    span.as_str()
                );
            }
            let (config, calendar) = commands::load_offline(config)?;
            let line = runtime()?.block_on(commands::report::run(
                &config,
                &calendar,
                period,
                output.format,
                &output.out,
                output.now.instant().to_utc(),
            ))?;
            eprintln!("duban: {line}");
        }
        Command::Warnings {
            command: WarningsCommand::Test { sender, to },
        } => {
            let (config, _) = commands::load(config)?;
            let accepted = runtime()?.block_on(commands::warnings::test(
                &config,
                &sender,
                &to,
                chrono::Utc::now(),
                &mut out,
            ))?;
            if !accepted {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Contacts {
            command: ContactsCommand::Import { file },
        } => {
            // No secret but the store's URL is used: the senders' keys need not be exported
            // to import a list (an unset store URL is caught by `contacts::run`).
            let (config, _) = commands::load_offline(config)?;
            let outcome = runtime()?.block_on(commands::contacts::run(
                &config,
                &file,
                &mut out,
                &mut io::stderr(),
            ))?;
            if let commands::contacts::Outcome::Refused { bad_rows } = outcome {
                eprintln!(
                    "duban: {bad_rows} bad row{} in {}; nothing was imported (the stored \
                     contacts are as they were): correct them and import the file again",
                    if bad_rows == 1 { "" } else { "s" },
                    file.display()
                );
                return Ok(ExitCode::from(2));
            }
        }
        Command::Sample { now, count, seed } => {
            let (config, calendar) = commands::load_offline(config)?;
            commands::sample::run(&config, &calendar, now.instant(), count, seed, &mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A JSON-lines input: a file, or standard input for `-` (refused when it is a terminal, where
/// the command would seem to hang).
fn open_input(file: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if file.as_os_str() == "-" {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            bail!("no input: name a JSON-lines file, or pipe records into standard input");
        }
        return Ok(Box::new(stdin.lock()));
    }
    let input = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, input)))
}

/// Exit 2 when some lines could not be used; their error objects are in the output.
fn report(tally: Tally, what: &str) -> ExitCode {
    if tally.errors == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "duban: graded {} {what}; {} could not be graded (see their error objects)",
        tally.graded, tally.errors
    );
    ExitCode::from(2)
}
