//! Structured logs with `tracing`: JSON lines (`serve`, for a log
//! collector) or human-readable lines (`demo`), on standard error. The
//! level comes from `RAFFLE_LOG` (an `EnvFilter` directive, default
//! `info`).
//!
//! What is logged is chosen where it is logged: ids, sizes, times, statuses
//! and error texts, never a validation number, token, password, TOTP
//! secret or buyer's detail (a test greps a full scenario's logs for them).

use tracing_subscriber::EnvFilter;

/// The shape of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Human,
}

/// Installs the process's subscriber (once; later calls change nothing, so
/// tests that start several servers in one process keep the first).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RAFFLE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Human => builder.compact().try_init(),
    };
}
