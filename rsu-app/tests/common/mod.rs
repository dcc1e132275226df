//! The unit's test rig: raffled's router served on a local port with an
//! open raffle, unit `gate-3` registered, enrolled by two administrators
//! and allocated numbers, operators with device PINs, and the unit's ports
//! (a manual clock, the printer simulator, the card-terminal simulator, a
//! network that can be cut).
#![allow(dead_code)]

use axum::http::StatusCode;
use raffle_core::Timestamp;
use raffle_core::ids::{PackageId, RaffleId};
use raffle_rsu::clock::ManualClock;
use raffle_rsu::escpos::{Command, parse, raster_rows};
use raffle_rsu::keystore::{KeyStore, PassphraseFile};
use raffle_rsu::payment::SimulatedTerminal;
use raffle_rsu::printer::Simulator;
use raffle_rsu::server::{Http, Reply, Transport};
use raffle_rsu::unit::{Identity, Ports, Settings, Unit};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use testkit::app::{App, SignedIn, app, approve, call, signed_in};
use testkit::raffles::{in_secs, two_draws};

pub const SELLER_PIN: &str = "48051693";
pub const SUPERVISOR_PIN: &str = "73920518";

pub struct Staff {
    pub admin: SignedIn,
    pub admin2: SignedIn,
    pub manager: SignedIn,
    pub seller: SignedIn,
    pub supervisor: SignedIn,
}

async fn staff(app: &App) -> Staff {
    Staff {
        admin: signed_in(app, "ada", &["administrator"]).await,
        admin2: signed_in(app, "abe", &["administrator"]).await,
        manager: signed_in(app, "mia", &["raffle_manager"]).await,
        seller: testkit::rsu::operator_with_pin(app, "ola", SELLER_PIN).await,
        supervisor: testkit::rsu::operator_with_pin(app, "sam", SUPERVISOR_PIN).await,
    }
}

/// A network that can be cut.
pub struct Cuttable {
    pub http: Http,
    pub cut: Arc<AtomicBool>,
}

impl Transport for Cuttable {
    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Reply, String> {
        if self.cut.load(Ordering::SeqCst) {
            return Err("connection refused".into());
        }
        self.http.post(path, headers, body)
    }
}

pub struct Rig {
    pub app: App,
    pub staff: Staff,
    pub raffle: RaffleId,
    pub dir: tempfile::TempDir,
    pub store: PassphraseFile,
    pub base: String,
    pub clock: ManualClock,
    pub printer: Simulator,
    pub terminal: SimulatedTerminal,
    pub cut: Arc<AtomicBool>,
}

impl Rig {
    /// A served raffled with an open raffle, and unit `gate-3` registered,
    /// enrolled by two administrators and allocated 100 numbers.
    pub async fn new() -> Rig {
        Rig::with_early_cutoff(3600).await
    }

    /// [`Rig::new`] with the early bird's cutoff `secs` from now.
    pub async fn with_early_cutoff(secs: i64) -> Rig {
        let app = app().await;
        let staff = staff(&app).await;
        let config = two_draws(in_secs(-60), in_secs(secs), in_secs(7200));
        let (status, v) = call(
            &app,
            "POST",
            "/api/v1/raffles",
            Some(&staff.manager.token),
            json!({ "config": config }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let raffle: RaffleId = v["id"].as_str().unwrap().parse().unwrap();
        let (status, v) = call(
            &app,
            "POST",
            &format!("/api/v1/raffles/{raffle}/open"),
            Some(&staff.manager.token),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let dir = tempfile::tempdir().unwrap();
        let store = PassphraseFile::new(&dir.path().join("key.json"), "a long enough passphrase");
        let key = store.create().unwrap();
        let (status, v) = call(
            &app,
            "POST",
            "/api/v1/rsu/devices",
            Some(&staff.admin.token),
            json!({ "id": "gate-3", "model": "PAX A920", "operator": "Gate crew", "key": hex::encode(key.public()) }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let (status, pending) = call(
            &app,
            "POST",
            "/api/v1/rsu/devices/gate-3/enrol",
            Some(&staff.admin.token),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
        let (status, v) = approve(&app, &pending, &staff.admin2.token).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, v) = call(
            &app,
            "POST",
            &format!("/api/v1/raffles/{raffle}/rsu/allocations"),
            Some(&staff.manager.token),
            json!({ "rsu": "gate-3", "count": 100 }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = web::router(app.state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap()
        });
        Rig {
            app,
            staff,
            raffle,
            dir,
            store,
            base,
            clock: ManualClock::new(Timestamp::now()),
            printer: Simulator::start().unwrap(),
            terminal: SimulatedTerminal::new(),
            cut: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn unit(&self, settings: Settings) -> raffle_rsu::Result<Unit> {
        self.unit_on(settings, Box::new(self.clock.clone()))
    }

    /// The unit on another clock (the system's, for the kiosk).
    pub fn unit_on(
        &self,
        settings: Settings,
        clock: Box<dyn raffle_rsu::clock::Clock>,
    ) -> raffle_rsu::Result<Unit> {
        let log_key = transparency::NoteVerifier::from_vkey(&self.app.state.vkey).unwrap();
        let id = Identity {
            rsu: "gate-3".parse().unwrap(),
            origin: log_key.name().to_string(),
            log_key,
        };
        Unit::open(
            &self.dir.path().join("journal.sqlite"),
            id,
            self.store.load()?,
            Ports {
                clock,
                printer: Box::new(self.printer.printer()),
                terminal: Some(Box::new(self.terminal.clone())),
                transport: Box::new(Cuttable {
                    http: Http::new(&self.base),
                    cut: self.cut.clone(),
                }),
            },
            settings,
            Some((
                self.dir.path().join("journal.backup"),
                self.store.backup_key()?,
            )),
        )
    }

    pub fn seller(&self) -> String {
        self.staff.seller.user.staff_id.to_string()
    }

    pub fn supervisor(&self) -> String {
        self.staff.supervisor.user.staff_id.to_string()
    }

    /// Every log entry of a type, in log order.
    pub async fn entries(&self, kind: &str) -> Vec<Value> {
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT body FROM log_entries WHERE kind = $1 ORDER BY idx")
                .bind(kind)
                .fetch_all(&self.app.state.store.pool)
                .await
                .unwrap();
        rows.into_iter()
            .map(|(b,)| serde_json::from_slice(&b).unwrap())
            .collect()
    }
}

/// Runs blocking unit code on this multi-threaded runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub fn p(id: &str) -> PackageId {
    id.parse().unwrap()
}

/// The texts and decoded QR codes of a printed ticket.
pub fn read_ticket(bytes: &[u8]) -> (String, Vec<String>) {
    let mut texts = Vec::new();
    let mut codes = Vec::new();
    for c in parse(bytes).unwrap() {
        match c {
            Command::Text(t) => texts.push(t),
            Command::Raster {
                width,
                height,
                data,
            } => {
                let rows = raster_rows(width, height, &data);
                let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
                    if rows[y][x] { 0 } else { 255 }
                });
                codes.push(img.detect_grids()[0].decode().unwrap().1);
            }
            _ => {}
        }
    }
    (texts.join("\n"), codes)
}
