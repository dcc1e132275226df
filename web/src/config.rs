//! The one configuration loader: every setting comes from the environment
//! and can be given as a flag (flags win).

use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

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
    /// A link (database, publication store, witness) silent for longer than
    /// this is a communication-loss event (GLI-31 5.6.1).
    #[arg(long, env = "RAFFLE_COMM_LOSS_SECS", default_value_t = 30)]
    pub comm_loss_secs: u64,
    /// Address for the metrics (Prometheus text format, `GET /metrics`); off unless set.
    #[arg(long, env = "RAFFLE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log lines as `json` or `human` (default: json under serve, human under demo).
    #[arg(long, env = "RAFFLE_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::ops::logging::LogFormat>,
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
    /// Payment providers a purchase may name, comma-separated (none by
    /// default: `serve` sells nothing online until one is configured).
    /// `test` moves no money: `demo` enables it; `serve` refuses it unless
    /// `--allow-test-payments` is given.
    #[arg(
        long = "payment-provider",
        env = "RAFFLE_PAYMENT_PROVIDERS",
        value_delimiter = ','
    )]
    pub payment_providers: Vec<String>,
    /// Lets `serve` run the `test` provider (no money moves); every page
    /// and receipt then says so, and the start is a significant event.
    #[arg(long, env = "RAFFLE_ALLOW_TEST_PAYMENTS")]
    pub allow_test_payments: bool,
    /// The site's public URL as buyers reach it (`https://raffles.example`).
    /// An `https://` URL (or a TLS certificate) makes cookies `__Host-`
    /// and `Secure` and sends HSTS; the log's public URL is this followed
    /// by `/log/`. Default: `http://` and the listen address.
    #[arg(long, env = "RAFFLE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A PEM certificate chain: with `--tls-key`, raffled serves HTTPS
    /// itself (rustls; TLS 1.2 and 1.3 only).
    #[arg(long, env = "RAFFLE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "RAFFLE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Proxies (addresses or CIDR blocks, comma-separated) whose
    /// `X-Forwarded-For` is believed: behind one, the client is the
    /// rightmost hop not in this list; from any other peer the header is
    /// ignored.
    #[arg(
        long = "trusted-proxy",
        env = "RAFFLE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub stripe: StripeSettings,
    #[command(flatten)]
    pub units: UnitSettings,
    /// The mail server receipts are sent through: `smtps://host:465`,
    /// `smtp://host:587` (STARTTLS) or `smtp+plain://127.0.0.1:1025` (a
    /// local relay only). No receipts are mailed without it.
    #[arg(long, env = "RAFFLE_SMTP_URL")]
    pub smtp_url: Option<String>,
    #[arg(long, env = "RAFFLE_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "RAFFLE_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,
    /// The receipts' sender, e.g. `Hospital 50/50 <receipts@example.org>`.
    #[arg(long, env = "RAFFLE_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Days after a raffle closes that its buyers' e-mail addresses are kept.
    #[arg(long, env = "RAFFLE_PERSONAL_DATA_DAYS", default_value_t = 90)]
    pub personal_data_days: u32,
}

/// A secret setting: its value never appears in a log line or a debug dump.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.trim().to_string()))
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The Stripe account card payments go to (`RAFFLE_PAYMENT_PROVIDERS=stripe`).
/// One account per deployment (no Connect). The secret key and the webhook
/// signing secrets are secrets: never logged, never on a page.
#[derive(Args, Clone, Debug, Default)]
pub struct StripeSettings {
    /// The account's secret key: `sk_live_...` (or a restricted `rk_live_...`);
    /// a test key (`sk_test_...`) only with `--allow-test-payments`.
    #[arg(
        long = "stripe-secret-key",
        env = "RAFFLE_STRIPE_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<Secret>,
    /// The account id (`acct_...`): at start, Stripe must say the key is this account's.
    #[arg(long = "stripe-account", env = "RAFFLE_STRIPE_ACCOUNT")]
    pub account: Option<String>,
    /// The webhook endpoint's signing secrets (`whsec_...`), comma-separated:
    /// several are valid at once while one is rolled.
    #[arg(
        long = "stripe-webhook-secret",
        env = "RAFFLE_STRIPE_WEBHOOK_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_secrets: Vec<Secret>,
    /// Stripe's API (a fake's, in tests and the demo).
    #[arg(
        long = "stripe-api-base",
        env = "RAFFLE_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub api_base: String,
}

/// The HTTP edge's limits. The per-address rates are per minute, with a
/// burst of the same size; a real surge comes from many addresses, and a
/// load test from one must raise them.
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Seconds a connection may take to send a request's headers (and
    /// may stay idle between requests) before it is cut.
    #[arg(long, env = "RAFFLE_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a request (its body included) may take before it is answered 408/503.
    #[arg(long, env = "RAFFLE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, env = "RAFFLE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Requests in progress at once; more are answered 503 with `Retry-After`.
    #[arg(long, env = "RAFFLE_MAX_REQUESTS", default_value_t = 4096)]
    pub max_requests: usize,
    /// Sign-in attempts a minute from one address.
    #[arg(long, env = "RAFFLE_RATE_SIGN_IN", default_value_t = 20)]
    pub sign_in_per_minute: u32,
    /// Purchases a minute from one address.
    #[arg(long, env = "RAFFLE_RATE_PURCHASES", default_value_t = 60)]
    pub purchases_per_minute: u32,
    /// Ticket checks a minute from one address.
    #[arg(long, env = "RAFFLE_RATE_TICKET_CHECKS", default_value_t = 30)]
    pub ticket_checks_per_minute: u32,
    /// Sales-unit sync requests a minute from one address (a venue's units
    /// may share one).
    #[arg(long, env = "RAFFLE_RATE_RSU_SYNCS", default_value_t = 1200)]
    pub rsu_syncs_per_minute: u32,
    /// Hours a staff session lasts at most, however active.
    #[arg(long, env = "RAFFLE_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 10_000,
            max_requests: 4096,
            sign_in_per_minute: 20,
            purchases_per_minute: 60,
            ticket_checks_per_minute: 30,
            rsu_syncs_per_minute: 1200,
            session_hours: 12,
        }
    }
}

/// Sales units' revalidation (GLI-31 5.4.2, 6.1.4).
#[derive(Args, Clone, Debug)]
pub struct UnitSettings {
    /// Hours a unit's operator list stays valid: a unit must sync (and so
    /// revalidate) within this or it stops selling; its records sold after
    /// its last list expired are refused.
    #[arg(
        long = "rsu-revalidation-hours",
        env = "RAFFLE_RSU_REVALIDATION_HOURS",
        default_value_t = 12
    )]
    pub revalidation_hours: u32,
    /// Signed syncs in a row that fail a check (a forked head, forged or
    /// broken records, a clock run backwards) before raffled disables the
    /// unit. Unsigned requests never count: anyone can send those.
    #[arg(
        long = "rsu-revalidation-failures",
        env = "RAFFLE_RSU_REVALIDATION_FAILURES",
        default_value_t = 3
    )]
    pub revalidation_failures: u32,
}

impl Default for UnitSettings {
    fn default() -> UnitSettings {
        UnitSettings {
            revalidation_hours: 12,
            revalidation_failures: 3,
        }
    }
}

impl UnitSettings {
    /// How long an operator list stays valid (at least an hour).
    pub fn revalidation(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.revalidation_hours.max(1)))
    }
}

impl Limits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

impl Config {
    /// How long a link may be silent before it is reported lost.
    pub fn comm_loss(&self) -> Duration {
        Duration::from_secs(self.comm_loss_secs)
    }

    /// Settings for tests and tools: everything at its default but the
    /// database, the data directory and the payment providers.
    pub fn for_tests(database_url: String, data_dir: PathBuf, providers: &[&str]) -> Config {
        Config {
            database_url,
            listen: "127.0.0.1:8080".parse().expect("an address"),
            metrics_listen: None,
            log_format: None,
            comm_loss_secs: 30,
            data_dir,
            log_origin: None,
            witness_keys: Vec::new(),
            witness_urls: Vec::new(),
            payment_providers: providers.iter().map(|p| p.to_string()).collect(),
            allow_test_payments: providers.contains(&"test"),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            stripe: StripeSettings::default(),
            units: UnitSettings::default(),
            smtp_url: None,
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            personal_data_days: 90,
        }
    }

    /// The site's public URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None if self.tls_cert.is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether buyers reach the site over HTTPS (raffled's own TLS, or a
    /// TLS proxy in front of it): cookies are then `__Host-` and `Secure`,
    /// and HSTS is sent.
    pub fn secure(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// The published log's URL.
    pub fn log_url(&self) -> String {
        format!("{}/log/", self.public_url())
    }

    /// The origin: the configured one, or the public URL of the log without its scheme.
    pub fn origin(&self) -> String {
        self.log_origin.clone().unwrap_or_else(|| {
            let url = self.public_url();
            let host = url.split_once("://").map_or(url.as_str(), |(_, h)| h);
            format!("{host}/log")
        })
    }

    /// Whether `peer` is one of the trusted proxies.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }

    pub fn publications_dir(&self) -> PathBuf {
        self.data_dir.join("publications")
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("log.key")
    }

    /// The server's own secret (see [`crate::app::keys::load_or_create_secret`]).
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("server.secret")
    }
}
