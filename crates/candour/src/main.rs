//! The `candour` command: serve the site, run the demo, migrate, check the configuration.

use candour::{bundle, demo, server};

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use candour_core::config::{Config, DatabaseUrl, LogFormat};
use clap::{Parser, Subcommand};

/// A page is many small allocations (headers, the frame's strings, the template's output);
/// mimalloc serves them from per-thread pages, which the home page benchmark showed cheaper
/// than the C library's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "candour",
    version,
    about = "A privacy-first engagement server for public websites"
)]
struct Cli {
    /// The configuration file. Default: ./candour.toml when it exists.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// How logs are written.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// The address to listen on, such as 127.0.0.1:8080 (also CANDOUR_LISTEN).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// sqlite://PATH or postgres://… (also CANDOUR_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the site.
    Serve(ServerArgs),
    /// Serve a populated demonstration site for a fictional police force, on a fresh database.
    Demo(ServerArgs),
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long, value_name = "URL")]
        database_url: Option<DatabaseUrl>,
    },
    /// Write a commented configuration file for a new site, to fill in.
    Init {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long, value_name = "PATH", default_value = "candour.toml")]
        path: PathBuf,
    },
    /// Copy a live SQLite database, consistently, while the server keeps serving. (On
    /// PostgreSQL, use pg_dump: this command says how.)
    Backup {
        /// Where to write the copy; an existing file is kept unless --force.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[arg(long, value_name = "URL")]
        database_url: Option<DatabaseUrl>,
    },
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Staff accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Requests about personal data.
    #[command(subcommand)]
    Requests(RequestsCommand),
}

#[derive(Debug, Subcommand)]
enum RequestsCommand {
    /// Write the answer to a request for a copy of someone's data (a ZIP of data.json, a CSV
    /// per kind and a readable index.html) and print where it is.
    Bundle {
        /// The request whose person it is for.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "person",
            required_unless_present = "person"
        )]
        case: Option<i64>,
        /// The person record it is for.
        #[arg(long, value_name = "ID")]
        person: Option<i64>,
        /// The folder to write it to. Default: the configured bundle folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write it this many times and print each time taken (for benchmarks); the last is kept.
        #[arg(long, default_value_t = 1)]
        rounds: u32,
        /// The recipient of the register of disclosures it is for (an active one).
        #[arg(
            long = "for",
            value_name = "RECIPIENT_ID",
            conflicts_with = "internal",
            required_unless_present = "internal"
        )]
        for_recipient: Option<i64>,
        /// It is for the organisation's own use: say what for.
        #[arg(long, value_name = "PURPOSE")]
        internal: Option<String>,
        #[arg(long, value_name = "URL")]
        database_url: Option<DatabaseUrl>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a staff account, or give an existing account a staff role. The password is read
    /// from a prompt, or from the first line of standard input when that is not a terminal.
    Create {
        #[arg(long)]
        email: String,
        /// admin, editor or privacy-officer.
        #[arg(long, value_parser = ["admin", "editor", "privacy-officer"])]
        role: String,
        #[arg(long, value_name = "URL")]
        database_url: Option<DatabaseUrl>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the configuration and report settings that break a promise or current UK law.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("candour: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The file `candour init` writes: every value valid, the ones to change marked.
const EXAMPLE_CONFIG: &str = include_str!("../../../candour.example.toml");

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Init { path } = &cli.command {
        return init(path);
    }
    let mut config = load_config(cli.config.as_deref())?;
    if let Some(format) = cli.log_format.as_deref() {
        config.log_format = if format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            apply(&mut config, &args);
            init_logging(config.log_format);
            runtime.block_on(server::serve(config, None))?;
        }
        Command::Demo(args) => {
            init_logging(config.log_format);
            let site = demo::prepare(config, args.database_url.is_none())?;
            let mut demo_config = site.config.clone();
            apply(&mut demo_config, &args);
            runtime.block_on(server::serve(demo_config, Some(&site)))?;
        }
        Command::Migrate { database_url } => {
            if let Some(url) = database_url {
                config.database_url = url;
            }
            init_logging(config.log_format);
            runtime.block_on(server::migrate(&config))?;
            println!("Migrations applied to {}.", config.database_url);
        }
        Command::Admin(AdminCommand::Create {
            email,
            role,
            database_url,
        }) => {
            if let Some(url) = database_url {
                config.database_url = url;
            }
            init_logging(config.log_format);
            let password = read_password()?;
            let outcome =
                runtime.block_on(server::create_staff(&config, &email, &role, &password))?;
            println!("{outcome}");
        }
        Command::Backup {
            file,
            force,
            database_url,
        } => {
            if let Some(url) = database_url {
                config.database_url = url;
            }
            init_logging(config.log_format);
            if !config.database_url.is_sqlite() {
                eprintln!("{}", server::POSTGRES_BACKUP);
                return Ok(ExitCode::FAILURE);
            }
            let made = runtime.block_on(server::backup(&config, &file, force))?;
            println!(
                "Wrote {} ({} bytes, schema version {}): a consistent copy of {}.",
                made.path.display(),
                made.bytes,
                made.schema_version,
                config.database_url
            );
        }
        Command::Requests(RequestsCommand::Bundle {
            case,
            person,
            out,
            rounds,
            for_recipient,
            internal,
            database_url,
        }) => {
            if let Some(url) = database_url {
                config.database_url = url;
            }
            init_logging(config.log_format);
            let whose = match (case, person) {
                (Some(case), _) => bundle::Whose::Case(case),
                (None, Some(person)) => bundle::Whose::Person(person),
                (None, None) => anyhow::bail!("give --case or --person"),
            };
            let for_whom = match (for_recipient, internal) {
                (Some(id), _) => bundle::For::Recipient(id),
                (None, Some(purpose)) => bundle::For::Internal(purpose),
                (None, None) => anyhow::bail!("give --for RECIPIENT_ID or --internal PURPOSE"),
            };
            let made = runtime.block_on(bundle::write(&config, whose, out, rounds, for_whom))?;
            for m in &made {
                println!("round_ms {:.3}", m.millis);
            }
            if let Some(last) = made.last() {
                println!(
                    "Wrote {} ({} bytes, {} rows of data).",
                    last.written.path.display(),
                    last.written.bytes,
                    last.written.rows
                );
            }
        }
        // Answered above, before any configuration is read.
        Command::Init { .. } => {}
        Command::Config(ConfigCommand::Check) => {
            candour_mail::check_files(&config.mail)?;
            let warnings = config.warnings();
            if warnings.is_empty() {
                println!("The configuration is valid and raises no warnings.");
            } else {
                println!(
                    "The configuration is valid, with {} warning(s):",
                    warnings.len()
                );
                for w in &warnings {
                    println!("- warning: {w}");
                }
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init(path: &Path) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} already exists; nothing was written (choose another --path)",
                path.display()
            ),
            _ => anyhow::anyhow!("could not write {}: {e}", path.display()),
        })?;
    file.write_all(EXAMPLE_CONFIG.as_bytes())?;
    println!(
        "Wrote {}. Fill in what is marked CHANGE, then run: candour --config {} config check",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The error and its causes on one line, without a cause that only repeats the one before.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) || out.contains(&format!("{text}: ")) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A password from a prompt on a terminal, else the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password for the new account: ")?;
        let again = rpassword::prompt_password("The same password again: ")?;
        anyhow::ensure!(first == again, "the two passwords are not the same");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn apply(config: &mut Config, args: &ServerArgs) {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
}

/// The file named by `--config`, else `./candour.toml` when present, else defaults; then the
/// environment on top.
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let default = Path::new("candour.toml");
    let path = match path {
        Some(p) => Some(p),
        None if default.exists() => Some(default),
        None => None,
    };
    let text = match path {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("could not read {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let name = path.map(|p| p.display().to_string());
    let env: Vec<(String, String)> = std::env::vars().collect();
    let file = match (&name, &text) {
        (Some(n), Some(t)) => Some((n.as_str(), t.as_str())),
        _ => None,
    };
    Ok(Config::load(
        file,
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colour only for a person at a terminal: files, pipes and journals get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
