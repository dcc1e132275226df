//! `raffle-rsu`: the sales unit. `init` enrols a unit (its key, encrypted,
//! and its configuration), `serve` runs the kiosk UI on 127.0.0.1,
//! `headless` takes JSON commands on standard input, `sync` uploads once,
//! `restore` brings a journal back from its encrypted backup.

use clap::{Parser, Subcommand};
use raffle_rsu::config::{self, UnitFile};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "raffle-rsu", version, about = "The raffle sales unit (RSU)")]
struct Cli {
    /// The unit's directory (configuration, key, journal).
    #[arg(long, global = true, default_value = "rsu")]
    dir: PathBuf,
    /// A file whose first line is the key's passphrase (else
    /// RAFFLE_RSU_PASSPHRASE).
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// The printer, overriding unit.json: file:DIR, tcp:HOST:PORT, simulator.
    #[arg(long, global = true)]
    printer: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generates the unit's key and writes its configuration; prints the
    /// public key to register on the master list.
    Init {
        /// raffled's base URL.
        #[arg(long)]
        server: String,
        /// The log's verifier key (the transparency page shows it).
        #[arg(long)]
        vkey: String,
        /// The unit's id.
        #[arg(long)]
        id: String,
        #[arg(long, default_value_t = 500)]
        max_unsynced: u64,
        #[arg(long, default_value_t = 240)]
        max_offline_minutes: i64,
        #[arg(long, default_value_t = 5)]
        idle_lock_minutes: i64,
        #[arg(long, default_value_t = 60)]
        reauth_offline_minutes: i64,
        /// Where the encrypted backup goes (default: DIR/backup/journal.backup).
        #[arg(long)]
        backup: Option<PathBuf>,
        #[arg(long, default_value = "simulator")]
        printer_spec: String,
        /// The card terminal: `simulator` (demonstrations), or none (cash only).
        #[arg(long)]
        card: Option<String>,
    },
    /// The kiosk: the operator UI on 127.0.0.1, syncing in the background.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
    /// JSON commands on standard input, one answer a line.
    Headless,
    /// Uploads what the server does not hold, once.
    Sync,
    /// Restores the journal from the encrypted backup.
    Restore {
        #[arg(long)]
        backup: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raffle-rsu: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> raffle_rsu::Result<()> {
    let passphrase = || config::passphrase(cli.passphrase_file.as_deref());
    match cli.command {
        Command::Init {
            server,
            vkey,
            id,
            max_unsynced,
            max_offline_minutes,
            idle_lock_minutes,
            reauth_offline_minutes,
            backup,
            printer_spec,
            card,
        } => {
            let file = UnitFile {
                server,
                vkey,
                rsu: id,
                max_unsynced,
                max_offline_minutes,
                idle_lock_minutes,
                reauth_offline_minutes,
                backup: backup.unwrap_or_else(|| cli.dir.join("backup").join("journal.backup")),
                printer: printer_spec,
                battery: None,
                card,
            };
            let public = config::init(&cli.dir, &file, &passphrase()?)?;
            println!("{}", hex::encode(public));
            eprintln!(
                "Register unit {} with this public key on the console's Sales units page; a second administrator approves its enrolment.",
                file.rsu
            );
            Ok(())
        }
        Command::Serve { listen } => {
            let unit = config::open(&cli.dir, &passphrase()?, cli.printer.as_deref())?;
            raffle_rsu::kiosk::serve(unit, listen)
        }
        Command::Headless => {
            let mut unit = config::open(&cli.dir, &passphrase()?, cli.printer.as_deref())?;
            raffle_rsu::headless::run(&mut unit, std::io::stdin().lock(), std::io::stdout().lock())
                .map_err(|e| raffle_rsu::Error::Refused(e.to_string()))
        }
        Command::Sync => {
            let mut unit = config::open(&cli.dir, &passphrase()?, cli.printer.as_deref())?;
            let s = unit.sync()?;
            println!(
                "uploaded {}, waiting {}, refused {}",
                s.uploaded,
                s.waiting,
                s.refused.len()
            );
            Ok(())
        }
        Command::Restore { backup } => config::restore(&cli.dir, &passphrase()?, &backup),
    }
}
