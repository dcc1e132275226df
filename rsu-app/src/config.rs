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
    /// The card terminal: `simulator` (demonstrations and tests: it
    /// approves unless scripted), or none: the unit takes cash only.
    #[serde(default)]
    pub card: Option<String>,
}

/// The longest any time limit may be: a week, in minutes.
const MAX_MINUTES: i64 = 7 * 24 * 60;

impl UnitFile {
    pub fn settings(&self) -> Settings {
        let minutes = |m: i64| m.clamp(1, MAX_MINUTES);
        Settings {
            limits: Limits {
                max_unsynced: self.max_unsynced.clamp(1, 100_000),
                max_offline_micros: minutes(self.max_offline_minutes) * 60_000_000,
            },
            idle_lock_secs: minutes(self.idle_lock_minutes) * 60,
            reauth_offline_secs: minutes(self.reauth_offline_minutes) * 60,
            ..Settings::default()
        }
    }

    /// What the device key is bound to: the log's key, the unit's id, the
    /// regulator's limits and the card terminal. An edit of any of them
    /// (say, a vkey of someone else's server) and the key no longer opens;
    /// the server's address, the printer and the backup path may change.
    pub fn binding(&self) -> Vec<u8> {
        let text = format!(
            "raffle-rsu-unit/v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.vkey.trim(),
            self.rsu,
            self.max_unsynced,
            self.max_offline_minutes,
            self.idle_lock_minutes,
            self.reauth_offline_minutes,
            self.card.as_deref().unwrap_or("")
        );
        <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()).to_vec()
    }

    /// The server's address: HTTPS, or HTTP to this machine only (answers
    /// are signed either way, but requests and the operators' list
    /// travel in the clear over HTTP).
    fn check_server(&self) -> Result<()> {
        let s = self.server.as_str();
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|p| s.starts_with(p));
        if s.starts_with("https://") || loopback {
            Ok(())
        } else {
            Err(Error::Refused(format!(
                "the server {s:?}: use https:// (http:// only to this machine)"
            )))
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
    file.check_server()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Refused(format!("{}: {e}", dir.display())))?;
    if dir.join("unit.json").exists() {
        return Err(Error::Refused(format!(
            "{} is a unit already",
            dir.display()
        )));
    }
    let key = PassphraseFile::new(&dir.join("key.json"), passphrase)
        .bound_to(&file.binding())
        .create()?;
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
    file.check_server()?;
    let store = PassphraseFile::new(&dir.join("key.json"), passphrase).bound_to(&file.binding());
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
        terminal: match file.card.as_deref() {
            None => None,
            Some("simulator") => Some(Box::new(SimulatedTerminal::new())),
            Some(other) => {
                return Err(Error::Refused(format!(
                    "card terminal {other:?}: only `simulator` is built (real terminals need their vendors' SDKs)"
                )));
            }
        },
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
    let file = read(dir)?;
    let key = PassphraseFile::new(&dir.join("key.json"), passphrase)
        .bound_to(&file.binding())
        .backup_key()?;
    let sealed =
        std::fs::read(backup).map_err(|e| Error::Refused(format!("{}: {e}", backup.display())))?;
    let plain = crate::keystore::open_backup(&key, &sealed).ok_or_else(|| {
        Error::Refused("the backup does not open with this unit's key, or was altered".into())
    })?;
    std::fs::write(&target, plain).map_err(|e| Error::Refused(e.to_string()))?;
    // A backup may be older than the journal it replaces: nothing sells
    // until the server confirmed it holds no record the backup lacks (if
    // it does, the unit stops and says so).
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute("UPDATE unit SET must_sync = 1 WHERE id = 1", []))
        .map_err(|e| Error::Refused(format!("the restored journal: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(vkey: &str) -> UnitFile {
        UnitFile {
            server: "http://127.0.0.1:8080".into(),
            vkey: vkey.into(),
            rsu: "gate-3".into(),
            max_unsynced: 500,
            max_offline_minutes: 240,
            idle_lock_minutes: 5,
            reauth_offline_minutes: 60,
            backup: PathBuf::from("backup/journal.backup"),
            printer: "simulator".into(),
            battery: None,
            card: None,
        }
    }

    #[test]
    fn an_edit_of_the_log_key_id_or_limits_stops_the_key_opening() {
        let server = transparency::NoteSigner::generate("raffles.example/log", 1).unwrap();
        let other = transparency::NoteSigner::generate("raffles.example/log", 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("unit");
        let f = file(&server.verifier().vkey());
        init(&unit, &f, "a long enough passphrase").unwrap();
        assert!(
            init(&unit, &f, "a long enough passphrase").is_err(),
            "never twice"
        );
        open(&unit, "a long enough passphrase", None).unwrap();
        // The server's address may change (a new proxy): still opens.
        let mut moved = f.clone();
        moved.server = "https://raffles.example".into();
        std::fs::write(
            unit.join("unit.json"),
            serde_json::to_string(&moved).unwrap(),
        )
        .unwrap();
        open(&unit, "a long enough passphrase", None).unwrap();
        for edit in [
            |f: &mut UnitFile, other: &str| f.vkey = other.to_string(),
            |f: &mut UnitFile, _: &str| f.max_offline_minutes = 100_000,
            |f: &mut UnitFile, _: &str| f.max_unsynced = 100_000,
            |f: &mut UnitFile, _: &str| f.card = Some("simulator".into()),
        ] {
            let mut edited = f.clone();
            edit(&mut edited, &other.verifier().vkey());
            std::fs::write(
                unit.join("unit.json"),
                serde_json::to_string(&edited).unwrap(),
            )
            .unwrap();
            assert!(matches!(
                open(&unit, "a long enough passphrase", None),
                Err(Error::WrongPassphrase)
            ));
        }
        // Plain HTTP to another machine is refused.
        let mut remote = f.clone();
        remote.server = "http://raffles.example".into();
        assert!(
            init(
                &dir.path().join("remote"),
                &remote,
                "a long enough passphrase"
            )
            .is_err()
        );
    }
}
