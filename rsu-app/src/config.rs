//! The unit's one configuration loader: its directory holds `unit.json`
//! (the server, the log's key, the unit's id and the regulator's limits,
//! written at enrolment), `key.json` (the device key, encrypted) and
//! `journal.sqlite`; the backup goes where `unit.json` says (removable
//! media, ideally). The passphrase comes from `RAFFLE_RSU_PASSPHRASE` or a
//! file, never from `unit.json`.

use crate::clock::SystemClock;
use crate::error::{Error, Result};
use crate::journal::Limits;
use crate::keystore::{KeyStore, PassphraseFile};
use crate::payment::SimulatedTerminal;
use crate::printer::{FilePrinter, NetworkPrinter, Printer, Simulator};
use crate::server::Http;
use crate::unit::{Identity, Ports, Settings, Unit};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `unit.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitFile {
    /// raffled's base URL.
    pub server: String,
    /// The log's verifier key (as `/log/vkey` and the transparency page
    /// show it): answers must be signed by it.
    pub vkey: String,
    /// The unit's id on the master list.
    pub rsu: String,
    /// Sales not yet acknowledged before the unit must sync (GLI-31 6.1.4).
    pub max_unsynced: u64,
    /// Minutes without an answer before the unit must sync.
    pub max_offline_minutes: i64,
    pub idle_lock_minutes: i64,
    pub reauth_offline_minutes: i64,
    /// Where the encrypted backup is written.
    pub backup: PathBuf,
    /// `file:DIR`, `tcp:HOST:PORT` or `simulator`.
    pub printer: String,
    /// A battery charge file (Linux power supply), for the printer's state.
    pub battery: Option<PathBuf>,
}

impl UnitFile {
    pub fn settings(&self) -> Settings {
        Settings {
            limits: Limits {
                max_unsynced: self.max_unsynced.max(1),
                max_offline_micros: self.max_offline_minutes.max(1) * 60_000_000,
            },
            idle_lock_secs: self.idle_lock_minutes.max(1) * 60,
            reauth_offline_secs: self.reauth_offline_minutes.max(1) * 60,
            ..Settings::default()
        }
    }
}

/// The passphrase: `RAFFLE_RSU_PASSPHRASE`, or the first line of `file`.
pub fn passphrase(file: Option<&Path>) -> Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| Error::KeyFile {
            path: f.to_path_buf(),
            why: e.to_string(),
        })?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    std::env::var("RAFFLE_RSU_PASSPHRASE")
        .map_err(|_| Error::Refused("set RAFFLE_RSU_PASSPHRASE or give --passphrase-file".into()))
}

pub fn read(dir: &Path) -> Result<UnitFile> {
    let path = dir.join("unit.json");
    let text = std::fs::read(&path)
        .map_err(|e| Error::Refused(format!("{}: {e} (run raffle-rsu init)", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::Refused(format!("{} does not read: {e}", path.display())))
}

/// Enrols a new unit in `dir`: generates its key (encrypted with the
/// passphrase) and writes `unit.json`. Returns the public key to register
/// on the master list.
pub fn init(dir: &Path, file: &UnitFile, passphrase: &str) -> Result<[u8; 32]> {
    transparency::NoteVerifier::from_vkey(&file.vkey)
        .map_err(|e| Error::Refused(format!("the log's key does not read: {e}")))?;
    file.rsu
        .parse::<raffle_core::ids::RsuId>()
        .map_err(|e| Error::Refused(format!("the unit's id: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Refused(format!("{}: {e}", dir.display())))?;
    if dir.join("unit.json").exists() {
        return Err(Error::Refused(format!(
            "{} is a unit already",
            dir.display()
        )));
    }
    let key = PassphraseFile::new(&dir.join("key.json"), passphrase).create()?;
    let text = serde_json::to_string_pretty(file).expect("serialises");
    std::fs::write(dir.join("unit.json"), text)
        .map_err(|e| Error::Refused(format!("unit.json: {e}")))?;
    Ok(key.public())
}

/// The printer `spec` names.
pub fn printer(spec: &str, battery: Option<PathBuf>) -> Result<Box<dyn Printer>> {
    if spec == "simulator" {
        let sim = Simulator::start().map_err(|e| Error::Refused(e.to_string()))?;
        return Ok(Box::new(SimulatedPrinter {
            driver: sim.printer(),
            _simulator: sim,
        }));
    }
    if let Some(dir) = spec.strip_prefix("file:") {
        return Ok(Box::new(
            FilePrinter::new(Path::new(dir)).map_err(|e| Error::Refused(e.to_string()))?,
        ));
    }
    if let Some(addr) = spec.strip_prefix("tcp:") {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::Refused(format!("the printer address {addr:?} does not read")))?;
        return Ok(Box::new(NetworkPrinter::new(addr, battery)));
    }
    Err(Error::Refused(format!(
        "printer {spec:?}: use file:DIR, tcp:HOST:PORT or simulator"
    )))
}

/// A simulator kept alive with its driver.
struct SimulatedPrinter {
    driver: NetworkPrinter,
    _simulator: Simulator,
}

impl Printer for SimulatedPrinter {
    fn status(&mut self) -> crate::printer::Status {
        self.driver.status()
    }
    fn print(&mut self, job: &[u8]) -> std::result::Result<(), crate::printer::Problem> {
        self.driver.print(job)
    }
}

/// Opens the unit in `dir` with the system clock, HTTP to its server, its
/// configured printer and the card-terminal simulator.
pub fn open(dir: &Path, passphrase: &str, printer_override: Option<&str>) -> Result<Unit> {
    let file = read(dir)?;
    let store = PassphraseFile::new(&dir.join("key.json"), passphrase);
    let key = store.load()?;
    let backup_key = store.backup_key()?;
    let log_key = transparency::NoteVerifier::from_vkey(&file.vkey)
        .map_err(|e| Error::Refused(format!("the log's key does not read: {e}")))?;
    let id = Identity {
        rsu: file
            .rsu
            .parse()
            .map_err(|e| Error::Refused(format!("the unit's id: {e}")))?,
        origin: log_key.name().to_string(),
        log_key,
    };
    let ports = Ports {
        clock: Box::new(SystemClock),
        printer: printer(
            printer_override.unwrap_or(&file.printer),
            file.battery.clone(),
        )?,
        terminal: Box::new(SimulatedTerminal::new()),
        transport: Box::new(Http::new(&file.server)),
    };
    if let Some(parent) = file.backup.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    Unit::open(
        &dir.join("journal.sqlite"),
        id,
        key,
        ports,
        file.settings(),
        Some((file.backup.clone(), backup_key)),
    )
}

/// Restores the journal from an encrypted backup into `dir` (whose key
/// opens it), refusing to replace a journal that is there.
pub fn restore(dir: &Path, passphrase: &str, backup: &Path) -> Result<()> {
    let target = dir.join("journal.sqlite");
    if target.exists() {
        return Err(Error::Refused(format!(
            "{} exists: move it aside first",
            target.display()
        )));
    }
    let key = PassphraseFile::new(&dir.join("key.json"), passphrase).backup_key()?;
    let sealed =
        std::fs::read(backup).map_err(|e| Error::Refused(format!("{}: {e}", backup.display())))?;
    let plain = crate::keystore::open_backup(&key, &sealed).ok_or_else(|| {
        Error::Refused("the backup does not open with this unit's key, or was altered".into())
    })?;
    std::fs::write(&target, plain).map_err(|e| Error::Refused(e.to_string()))?;
    Ok(())
}
