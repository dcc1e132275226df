//! Where a published log is read from: a directory copy of the publications
//! or the `http(s)://` URL of the log prefix (e.g. `http://127.0.0.1:8080/log/`).
//!
//! Both are read-only [`TileStorage`]s, so the verification code cannot
//! tell them apart. Over HTTP a 404 is "no such file" (tlog-tiles lets a
//! partial tile disappear once its full tile exists); any other failure is an
//! error naming the URL. TLS is rustls with the webpki roots.

use crate::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;
use transparency::store::{DirStorage, TileStorage};

/// The largest file the auditor reads from a source (an entry bundle holds
/// at most 256 entries of 65,535 bytes).
const MAX_FILE: u64 = 256 * (65_535 + 2) + 1024;

/// A published log, read-only.
pub enum Source {
    Dir(DirStorage),
    Http(HttpStorage),
}

impl Source {
    /// Opens `spec`: an `http://` or `https://` URL, or a directory.
    pub fn open(spec: &str) -> Result<Source> {
        if spec.starts_with("http://") || spec.starts_with("https://") {
            return Ok(Source::Http(HttpStorage::new(spec)));
        }
        let dir = PathBuf::from(spec);
        if !dir.is_dir() {
            return Err(Error::Input(format!(
                "{spec}: not a directory or an http(s):// URL of a published log"
            )));
        }
        Ok(Source::Dir(
            DirStorage::new(dir, false).map_err(|e| Error::Source(e.to_string()))?,
        ))
    }

    /// How many threads should read this source at once: enough to hide
    /// the round trips of a remote log, as many as the cores for a disk.
    /// `RAFFLE_AUDIT_READERS` overrides it (1 to 64).
    pub fn readers(&self) -> usize {
        if let Some(n) = std::env::var("RAFFLE_AUDIT_READERS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        {
            return n.clamp(1, 64);
        }
        match self {
            Source::Dir(_) => std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            Source::Http(_) => 16,
        }
    }

    /// Reads a file that must exist.
    pub fn read_required(&self, path: &str) -> Result<Vec<u8>> {
        self.read(path)?
            .ok_or_else(|| Error::Source(format!("{}: no such file", self.describe(path))))
    }

    /// The location of `path`, for messages.
    pub fn describe(&self, path: &str) -> String {
        match self {
            Source::Dir(d) => d.root().join(path).display().to_string(),
            Source::Http(h) => format!("{}{path}", h.base),
        }
    }
}

impl TileStorage for Source {
    fn read(&self, path: &str) -> transparency::Result<Option<Vec<u8>>> {
        match self {
            Source::Dir(d) => d.read(path),
            Source::Http(h) => h.read(path),
        }
    }

    fn write(&self, path: &str, _data: &[u8]) -> transparency::Result<()> {
        Err(read_only(path))
    }

    fn sync(&self) -> transparency::Result<()> {
        Ok(())
    }
}

fn read_only(path: &str) -> transparency::Error {
    transparency::Error::InvalidArgument(format!("{path}: the audited log is read-only"))
}

/// A log prefix over HTTP(S).
pub struct HttpStorage {
    base: String,
    agent: ureq::Agent,
}

impl HttpStorage {
    pub fn new(url: &str) -> HttpStorage {
        let base = if url.ends_with('/') {
            url.to_string()
        } else {
            format!("{url}/")
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        HttpStorage { base, agent }
    }

    fn read(&self, path: &str) -> transparency::Result<Option<Vec<u8>>> {
        let url = format!("{}{path}", self.base);
        let fail = |reason: String| transparency::Error::Io {
            path: PathBuf::from(&url),
            source: std::io::Error::other(reason),
        };
        // A few retries for transient network errors, never for answers.
        let mut attempt = 0;
        let mut resp = loop {
            match self.agent.get(&url).call() {
                Ok(r) => break r,
                Err(e) if attempt < 2 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200 * attempt));
                    let _ = e;
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        };
        match resp.status().as_u16() {
            200 => resp
                .body_mut()
                .with_config()
                .limit(MAX_FILE)
                .read_to_vec()
                .map(Some)
                .map_err(|e| fail(format!("reading the body: {e}"))),
            404 => Ok(None),
            status => Err(fail(format!("HTTP status {status}"))),
        }
    }
}
