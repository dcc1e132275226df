//! `raffled serve | demo`: the raffle server.

use clap::{Parser, Subcommand};
use web::config::Config;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "raffled",
    version,
    about = "The raffle server: sequencer, JSON API, published log"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the published log.
    Serve(Config),
    /// Serve, and on first start create a demo organisation's open 50/50 raffle.
    Demo(Config),
    /// Console users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The draw's random generator, for the lab's statistical tests (GLI-31 chapter 4).
    Rng {
        #[command(subcommand)]
        command: RngCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the first administrator (only when no user exists) and print its credentials.
    Bootstrap {
        #[command(flatten)]
        config: Config,
        /// Print the credentials as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RngCommand {
    /// Output from the draw's own generator with fresh seeds from the OS CSPRNG.
    Collect(web::cli::rng::CollectArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let (config, demo) = match cli.command {
        Command::Serve(c) => (c, false),
        Command::Demo(mut c) => {
            // The demo sells with the test provider: no money moves, and
            // every page and receipt says so.
            if !c.payment_providers.iter().any(|p| p == "test") {
                c.payment_providers.push("test".into());
            }
            c.allow_test_payments = true;
            (c, true)
        }
        Command::Admin {
            command: AdminCommand::Bootstrap { config, json },
        } => {
            match bootstrap(&config).await {
                Ok(Some((username, password, secret))) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({ "username": username, "password": password, "totp_secret": secret })
                        );
                    } else {
                        println!(
                            "administrator: {username}\npassword:      {password}\nTOTP secret:   {secret}"
                        );
                    }
                }
                Ok(None) => {
                    eprintln!("raffled admin bootstrap: users exist already; nothing created");
                    std::process::exit(1);
                }
                Err(e) => {
                    eprintln!("raffled admin bootstrap: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        Command::Rng {
            command: RngCommand::Collect(args),
        } => {
            if let Err(e) = web::cli::rng::collect(&args, &mut std::io::stdout().lock()) {
                eprintln!("raffled rng collect: {e}");
                std::process::exit(1);
            }
            return;
        }
    };
    if let Err(e) = run(config, demo).await {
        eprintln!("raffled: {e}");
        std::process::exit(1);
    }
}

async fn run(mut config: Config, demo: bool) -> Result<(), String> {
    use web::ops::logging::{LogFormat, init};
    init(config.log_format.unwrap_or(if demo {
        LogFormat::Human
    } else {
        LogFormat::Json
    }));
    // The demo takes cards through the fake Stripe (no money moves),
    // unless Stripe settings were given.
    let _fake_stripe = if demo && config.stripe.secret_key.is_none() {
        Some(web::cli::demo::fake_stripe(&mut config).await)
    } else {
        None
    };
    let listen = config.listen;
    let state = web::start(config).await?;
    if let Some(addr) = state.config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("listening for metrics on {addr}: {e}"))?;
        println!("metrics:    http://{addr}/metrics");
        let app = web::ops::metrics::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    println!(
        "raffled {} listening on {}://{listen}",
        env!("CARGO_PKG_VERSION"),
        if state.config.tls_cert.is_some() {
            "https"
        } else {
            "http"
        }
    );
    println!("public URL: {}", state.config.public_url());
    println!("log origin: {}", state.config.origin());
    println!("log vkey:   {}", state.vkey);
    if let Some(fake) = &_fake_stripe {
        println!(
            "cards:      the fake Stripe at {} (card 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined)",
            fake.url
        );
    }
    if state.payments.test_enabled() {
        println!("payments:   test (no money moves; every page and receipt says so)");
    } else if state.payments.names().is_empty() {
        println!("payments:   none configured (RAFFLE_PAYMENT_PROVIDERS): online sales are closed");
    }
    if demo {
        let raffle = web::cli::demo::ensure_demo_raffle(&state).await?;
        println!(
            "demo raffle: {}/api/v1/raffles/{raffle}",
            state.config.public_url()
        );
        if let Some((username, password, secret)) =
            web::cli::demo::ensure_administrator(&state.store).await?
        {
            println!("administrator: {username}  password: {password}  TOTP secret: {secret}");
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listening on {listen}: {e}"))?;
    web::cli::serve::serve(state, listener).await
}

/// Creates the first administrator unless users exist.
async fn bootstrap(config: &Config) -> Result<Option<(String, String, String)>, String> {
    let store = raffle_core::store::Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    web::cli::demo::ensure_administrator(&store).await
}
