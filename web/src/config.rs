//! The one configuration loader: every setting comes from the environment
//! and can be given as a flag (flags win).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings shared by `serve` and `demo`.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// PostgreSQL URL; the database is created, with its migrations, on first start.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/raffle"
    )]
    pub database_url: String,
    /// Address to listen on.
    #[arg(long, env = "RAFFLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Holds the signing key (`log.key`, mode 0600) and the publication directory (`publications/`).
    #[arg(long, env = "RAFFLE_DATA_DIR", default_value = "./var")]
    pub data_dir: PathBuf,
    /// The log origin (and the signing key's name). Default: the listen address followed by `/log`.
    #[arg(long, env = "RAFFLE_LOG_ORIGIN")]
    pub log_origin: Option<String>,
    /// Verifier keys (vkeys) of the witnesses whose draw contributions are accepted, comma-separated.
    #[arg(long, env = "RAFFLE_WITNESS_KEYS", value_delimiter = ',')]
    pub witness_keys: Vec<String>,
    /// Where each witness listens, as `<key name>=<URL>` (comma-separated):
    /// every checkpoint is offered to it (tlog-witness add-checkpoint) and
    /// draws ask it for their contribution. A witness without a URL
    /// contributes through the admin API instead.
    #[arg(
        long = "witness-url",
        env = "RAFFLE_WITNESS_URLS",
        value_delimiter = ','
    )]
    pub witness_urls: Vec<String>,
}

impl Config {
    /// The origin: the configured one, or the public URL of the log without its scheme.
    pub fn origin(&self) -> String {
        self.log_origin
            .clone()
            .unwrap_or_else(|| format!("{}/log", self.listen))
    }

    pub fn publications_dir(&self) -> PathBuf {
        self.data_dir.join("publications")
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("log.key")
    }
}
