//! A local SMTP sink for the receipt tests: Python's aiosmtpd (installed
//! by scripts/test) writing every message it accepts into a Maildir.
//! scripts/test starts one for the whole run (`RAFFLE_TEST_SMTP_SINK` is
//! its address, `RAFFLE_TEST_MAILDIR` its Maildir); without them (a test
//! run by hand) each sink starts its own. Tests find their messages by
//! recipient, so a shared sink is fine.

use std::path::PathBuf;
use std::time::Duration;

pub struct Sink {
    /// `host:port`.
    pub addr: String,
    pub maildir: PathBuf,
    _own: Option<(std::process::Child, tempfile::TempDir)>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self._own {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The run's sink, or a new one.
pub async fn sink() -> Sink {
    if let (Ok(addr), Ok(dir)) = (
        std::env::var("RAFFLE_TEST_SMTP_SINK"),
        std::env::var("RAFFLE_TEST_MAILDIR"),
    ) {
        return Sink {
            addr,
            maildir: dir.into(),
            _own: None,
        };
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let port = crate::measure::free_local_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &addr,
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 with aiosmtpd (scripts/test installs it)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Sink {
        addr,
        maildir,
        _own: Some((child, dir)),
    }
}

impl Sink {
    /// The raw messages delivered to `to`, waiting up to `timeout` for one.
    pub async fn messages_to(&self, to: &str, timeout: Duration) -> Vec<String> {
        let end = std::time::Instant::now() + timeout;
        loop {
            let mut found = Vec::new();
            for sub in ["new", "cur"] {
                if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                    for e in entries.flatten() {
                        if let Ok(text) = std::fs::read_to_string(e.path())
                            && text.lines().any(|l| {
                                l.to_ascii_lowercase().starts_with("to:") && l.contains(to)
                            })
                        {
                            found.push(text);
                        }
                    }
                }
            }
            if !found.is_empty() || std::time::Instant::now() >= end {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
