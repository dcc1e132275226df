//! Keys and the witness policy given on the command line.
//!
//! `--vkey` takes the log's verifier key as text (`name+hash+base64`) or
//! the path of a file holding it. A witness policy file lists the witnesses
//! whose cosignatures a checkpoint must carry and how many must be there:
//!
//! ```text
//! # the regulator's witness
//! witness regulator.example/witness+1a2b3c4d+AQ...
//! quorum 1
//! ```
//!
//! `quorum` defaults to every listed witness. Blank lines and `#` comments
//! are ignored; anything else is an error naming its line.

use crate::{Error, Result};
use transparency::NoteVerifier;
use transparency::key::ALG_COSIGNATURE_V1;

/// Reads a verifier key given as text or as a file.
pub fn read_vkey(arg: &str, what: &str) -> Result<NoteVerifier> {
    let text = if std::path::Path::new(arg).is_file() {
        std::fs::read_to_string(arg).map_err(|e| Error::Input(format!("{what} {arg}: {e}")))?
    } else {
        arg.to_string()
    };
    NoteVerifier::from_vkey(text.trim()).map_err(|e| {
        Error::Input(format!(
            "{what} {:?} is not a verifier key (name+hash+base64) or a file holding one: {e}",
            abbreviate(arg)
        ))
    })
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The witnesses whose cosignatures a checkpoint needs, and how many.
#[derive(Clone, Debug)]
pub struct Policy {
    pub witnesses: Vec<NoteVerifier>,
    pub quorum: usize,
}

impl Policy {
    pub fn read(path: &str) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Input(format!("witness policy {path}: {e}")))?;
        Policy::parse(&text).map_err(|e| Error::Input(format!("witness policy {path}: {e}")))
    }

    pub fn parse(text: &str) -> std::result::Result<Policy, String> {
        let mut witnesses: Vec<NoteVerifier> = Vec::new();
        let mut quorum = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = n + 1;
            match line.split_once(char::is_whitespace) {
                Some(("witness", key)) => {
                    let key = NoteVerifier::from_vkey(key.trim())
                        .map_err(|e| format!("line {at}: {e}"))?;
                    if key.alg() != ALG_COSIGNATURE_V1 {
                        return Err(format!(
                            "line {at}: {} is not a cosignature/v1 witness key",
                            key.name()
                        ));
                    }
                    if witnesses.iter().any(|w| w.name() == key.name()) {
                        return Err(format!("line {at}: witness {} is listed twice", key.name()));
                    }
                    witnesses.push(key);
                }
                Some(("quorum", k)) => {
                    quorum = Some(k.trim().parse::<usize>().map_err(|_| {
                        format!("line {at}: quorum {:?} is not a number", k.trim())
                    })?);
                }
                _ => {
                    return Err(format!(
                        "line {at}: expected `witness <vkey>` or `quorum <n>`, found {line:?}"
                    ));
                }
            }
        }
        if witnesses.is_empty() {
            return Err("no `witness <vkey>` line".into());
        }
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum == 0 || quorum > witnesses.len() {
            return Err(format!(
                "quorum {quorum} must be between 1 and the {} witnesses listed",
                witnesses.len()
            ));
        }
        Ok(Policy { witnesses, quorum })
    }
}
