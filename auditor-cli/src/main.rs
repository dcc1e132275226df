//! The `raffle-audit` command line. Exit status: 0 when everything
//! verified, 1 when a rule was broken or a ticket did not verify, 2 when no
//! verdict could be reached (bad input, unreadable or unverifiable log).

use clap::{Parser, Subcommand};
use raffle_audit::audit::{Options, Outcome, audit_log};
use raffle_audit::keys::{Policy, read_vkey};
use raffle_audit::source::Source;
use raffle_audit::state::AuditState;
use raffle_audit::{Error, Result, report, ticket, witness};
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "raffle-audit",
    version,
    about = "Verify a published raffle log, a ticket receipt or a draw, offline; or run the regulator's witness."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audit a whole published log: signatures, tiles, consistency and every raffle rule.
    Log {
        /// A directory copy of the publications, or the http(s):// URL of the log prefix.
        source: String,
        /// The log's verifier key, as text or a file.
        #[arg(long)]
        vkey: String,
        /// Keeps the last checkpoint verified; the next audit must be consistent with it.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Witnesses (`witness <vkey>` lines) and `quorum <n>` the checkpoint and draws need.
        #[arg(long)]
        witness_policy: Option<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a ticket receipt (.tlog-proof); the validation number is read from standard input.
    Ticket {
        receipt: String,
        #[arg(long)]
        vkey: String,
        /// Also check against the published log (consistency; voided or won).
        #[arg(long)]
        source: Option<String>,
    },
    /// Replay the draws of one raffle step by step.
    Draw {
        source: String,
        #[arg(long)]
        raffle: String,
        #[arg(long)]
        vkey: String,
        #[arg(long)]
        witness_policy: Option<String>,
    },
    /// Run the regulator's witness (tlog-witness add-checkpoint and draw contributions).
    Witness {
        /// The witness's private key file (created, mode 0600, when --name is given and it is missing).
        #[arg(long)]
        key: PathBuf,
        /// The witness key's name, to create the key.
        #[arg(long)]
        name: Option<String>,
        /// Where the witness keeps what it cosigned and contributed.
        #[arg(long)]
        state: PathBuf,
        /// The log's verifier key, as text or a file (repeat for several logs).
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("raffle-audit: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Log {
            source,
            vkey,
            state,
            witness_policy,
            json,
        } => {
            let outcome = run_audit(&source, &vkey, witness_policy.as_deref(), state, None)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report::json(&outcome)).expect("JSON")
                );
            } else {
                print!("{}", report::text(&outcome));
            }
            Ok(outcome.passed())
        }
        Command::Ticket {
            receipt,
            vkey,
            source,
        } => {
            let vkey = read_vkey(&vkey, "--vkey")?;
            let source = source.as_deref().map(Source::open).transpose()?;
            let validation = read_validation_number()?;
            let r = ticket::check_ticket(&receipt, &vkey, validation.as_deref(), source.as_ref())?;
            for line in &r.lines {
                println!("{line}");
            }
            Ok(r.ok)
        }
        Command::Draw {
            source,
            raffle,
            vkey,
            witness_policy,
        } => {
            let outcome = run_audit(
                &source,
                &vkey,
                witness_policy.as_deref(),
                None,
                Some(&raffle),
            )?;
            let Some(summary) = outcome
                .audit
                .summaries()
                .into_iter()
                .find(|r| r.id == raffle)
            else {
                return Err(Error::Input(format!("raffle {raffle} is not in the log")));
            };
            println!(
                "raffle {} {:?} ({}), log {} of {} entries",
                summary.id,
                summary.name,
                summary.organisation,
                outcome.checkpoint.origin,
                outcome.checkpoint.size
            );
            for line in &outcome.audit.trace {
                println!("  {line}");
            }
            let mine: Vec<_> = outcome
                .audit
                .violations
                .iter()
                .filter(|v| v.raffle.as_deref() == Some(raffle.as_str()))
                .collect();
            let performed = summary.draws.iter().filter(|d| d.verified).count();
            if mine.is_empty() {
                println!(
                    "DRAWS VERIFIED: {performed} of {} draws performed, each recomputed from the log",
                    summary.draws.len()
                );
            } else {
                println!(
                    "DRAWS NOT VERIFIED: {} violation(s) in this raffle",
                    mine.len()
                );
            }
            Ok(mine.is_empty())
        }
        Command::Witness {
            key,
            name,
            state,
            logs,
            listen,
        } => {
            let key = witness::load_or_create_key(&key, name.as_deref())?;
            let logs = logs
                .iter()
                .map(|l| read_vkey(l, "--log"))
                .collect::<Result<Vec<_>>>()?;
            let service = witness::WitnessService::open(key, logs, &state)?;
            witness::serve(service, &listen)?;
            Ok(true)
        }
    }
}

/// Opens the source, the key, the policy and the state given on the
/// command line, and audits the log.
fn run_audit(
    source: &str,
    vkey: &str,
    policy: Option<&str>,
    state: Option<PathBuf>,
    trace: Option<&str>,
) -> Result<Outcome> {
    let vkey = read_vkey(vkey, "--vkey")?;
    let policy = policy.map(Policy::read).transpose()?;
    let state = state.as_deref().map(AuditState::open).transpose()?;
    let source = Source::open(source)?;
    audit_log(
        &source,
        &Options {
            vkey: &vkey,
            policy: policy.as_ref(),
            state: state.as_ref(),
            trace,
            progress: true,
        },
    )
}

/// The validation number from standard input: prompted on a terminal,
/// read whole otherwise; empty means none.
fn read_validation_number() -> Result<Option<String>> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        eprint!("Validation number (as printed beside the receipt; empty to skip): ");
        let _ = std::io::stderr().flush();
        stdin
            .read_line(&mut text)
            .map_err(|e| Error::Input(format!("standard input: {e}")))?;
    } else {
        stdin
            .lock()
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| Error::Input(format!("standard input: {e}")))?;
    }
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}
