//! The audit state directory: the last checkpoint this auditor verified
//! completely, so that the next audit proves the log only grew from it.
//!
//! The state moves forward only when an audit found nothing wrong. A
//! smaller log than the one last verified is a rollback, a different root
//! at a known size a fork: both are errors, whoever re-signed them. The
//! file is replaced by write, fsync, rename and directory fsync.

use crate::{Error, Result};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use transparency::NoteVerifier;
use transparency::checkpoint::SignedCheckpoint;

const FILE: &str = "checkpoint";

pub struct AuditState {
    dir: PathBuf,
}

impl AuditState {
    pub fn open(dir: &Path) -> Result<AuditState> {
        fs::create_dir_all(dir).map_err(|e| Error::State(format!("{}: {e}", dir.display())))?;
        Ok(AuditState {
            dir: dir.to_path_buf(),
        })
    }

    /// The last checkpoint verified, checked against the log key again.
    pub fn last(&self, vkey: &NoteVerifier) -> Result<Option<SignedCheckpoint>> {
        let path = self.dir.join(FILE);
        match fs::read(&path) {
            Ok(bytes) => SignedCheckpoint::open(&bytes, vkey, &[])
                .map(Some)
                .map_err(|e| Error::State(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::State(format!("{}: {e}", path.display()))),
        }
    }

    /// Records `note` (a signed checkpoint) as the last one verified.
    pub fn advance(&self, note: &[u8]) -> Result<()> {
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let fail = |e: std::io::Error| Error::State(format!("{}: {e}", path.display()));
        let mut f = fs::File::create(&tmp).map_err(fail)?;
        f.write_all(note).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        fs::rename(&tmp, &path).map_err(fail)?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(fail)?;
        Ok(())
    }
}
