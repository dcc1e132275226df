//! The log's signing key: a file in Go's `PRIVATE+KEY+name+id+base64`
//! format, mode 0600, created on first start with the origin as its name.
//! A key whose name is not the origin is refused.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use transparency::key::{ALG_ED25519, NoteSigner};

pub fn load_or_create(path: &Path, origin: &str) -> Result<NoteSigner, String> {
    match read_private(path, "the signing key") {
        Ok(text) => {
            let key = NoteSigner::from_private_key(&text?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if key.name() != origin {
                return Err(format!(
                    "{}: the signing key is named {:?} but the log origin is {origin:?} (set RAFFLE_LOG_ORIGIN, or use another data directory)",
                    path.display(),
                    key.name()
                ));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = NoteSigner::generate(origin, ALG_ED25519).map_err(|e| e.to_string())?;
            write_private(path, &format!("{}\n", key.private_key_text()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The server's own secret (32 bytes from the OS CSPRNG, hex, mode 0600),
/// beside the signing key and never in the database: it keys the hashes of
/// attempted usernames in events and sign-in counters, and seals TOTP
/// secrets. Created on first start.
pub fn load_or_create_secret(path: &Path) -> Result<[u8; 32], String> {
    match read_private(path, "the secret") {
        Ok(text) => hex::decode(text?.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("{}: not 64 hexadecimal digits", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| format!("OS random: {e}"))?;
            write_private(path, &format!("{}\n", hex::encode(secret)))?;
            Ok(secret)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The text of a private file, refused if others may read it.
fn read_private(path: &Path, what: &str) -> std::io::Result<Result<String, String>> {
    let text = std::fs::read_to_string(path)?;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode(),
        Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
    };
    if mode & 0o077 != 0 {
        return Ok(Err(format!(
            "{}: {what} must not be readable by others (chmod 600)",
            path.display()
        )));
    }
    Ok(Ok(text))
}

/// Writes a new private file (mode 0600, fsynced); refuses to replace one.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}
