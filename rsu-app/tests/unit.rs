//! The unit against the real server: raffled's router on a local port,
//! the unit over HTTP with the printer simulator and the card-terminal
//! simulator. Sign-in against the signed operator list, selling for cash
//! and card, a printer fault mid-sale resolved by a supervised reprint or
//! void, the offline limits, re-authentication, and a hand-edited journal
//! that stops the unit and is reported.

use axum::http::StatusCode;
use raffle_core::Timestamp;
use raffle_core::entry::VoidReason;
use raffle_core::ids::{PackageId, RaffleId};
use raffle_rsu::clock::ManualClock;
use raffle_rsu::escpos::{Command, parse, raster_rows};
use raffle_rsu::i18n::Lang;
use raffle_rsu::keystore::{KeyStore, PassphraseFile};
use raffle_rsu::payment::{Scripted, SimulatedTerminal};
use raffle_rsu::printer::{Fault, Paper, Problem, Simulator};
use raffle_rsu::server::{Http, Reply, Transport};
use raffle_rsu::unit::{Identity, Ports, Settings, Tender, Unit};
use raffle_rsu::{Error, journal::Limits};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use testkit::app::{App, SignedIn, app, approve, call, signed_in};
use testkit::raffles::{in_secs, two_draws};

const SELLER_PIN: &str = "48051693";
const SUPERVISOR_PIN: &str = "73920518";

struct Staff {
    admin: SignedIn,
    admin2: SignedIn,
    manager: SignedIn,
    seller: SignedIn,
    supervisor: SignedIn,
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
struct Cuttable {
    http: Http,
    cut: Arc<AtomicBool>,
}

impl Transport for Cuttable {
    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Reply, String> {
        if self.cut.load(Ordering::SeqCst) {
            return Err("connection refused".into());
        }
        self.http.post(path, headers, body)
    }
}

struct Rig {
    app: App,
    staff: Staff,
    raffle: RaffleId,
    dir: tempfile::TempDir,
    store: PassphraseFile,
    base: String,
    clock: ManualClock,
    printer: Simulator,
    terminal: SimulatedTerminal,
    cut: Arc<AtomicBool>,
}

impl Rig {
    /// A served raffled with an open raffle, and unit `gate-3` registered,
    /// enrolled by two administrators and allocated 100 numbers.
    async fn new() -> Rig {
        let app = app().await;
        let staff = staff(&app).await;
        let config = two_draws(in_secs(-60), in_secs(3600), in_secs(7200));
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

    fn unit(&self, settings: Settings) -> raffle_rsu::Result<Unit> {
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
                clock: Box::new(self.clock.clone()),
                printer: Box::new(self.printer.printer()),
                terminal: Box::new(self.terminal.clone()),
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

    fn seller(&self) -> String {
        self.staff.seller.user.staff_id.to_string()
    }

    fn supervisor(&self) -> String {
        self.staff.supervisor.user.staff_id.to_string()
    }

    /// Every log entry of a type, in log order.
    async fn entries(&self, kind: &str) -> Vec<Value> {
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
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn p(id: &str) -> PackageId {
    id.parse().unwrap()
}

/// The texts and decoded QR codes of a printed ticket.
fn read_ticket(bytes: &[u8]) -> (String, Vec<String>) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_signs_in_sells_prints_reprints_voids_and_uploads() {
    let rig = Rig::new().await;
    let mut unit = rig.unit(Settings::default()).unwrap();
    let raffle = rig.raffle.clone();
    // No operator list before the server answered.
    let e = blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap_err();
    assert!(e.to_string().contains("no operator list"), "{e}");
    blocking(|| unit.sync()).unwrap();
    let e = blocking(|| unit.sign_in(&rig.seller(), "11112222")).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    // Nothing sells before sign-in (GLI-31 3.2.2).
    let e = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(1000), Lang::En)).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    blocking(|| unit.cash("float", 5_000)).unwrap();

    // Cash: the ticket prints with its validation number, whose commitment
    // the record carries, and the signed record.
    let sale = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(2_000), Lang::En)).unwrap();
    assert_eq!(sale.printed, Ok(()));
    assert_eq!(sale.change, 1_000);
    let tickets = rig.printer.printed();
    let (text, codes) = read_ticket(&tickets[0]);
    assert!(
        text.contains("gate-3") && text.contains("10.00 CAD"),
        "{text}"
    );
    let vn = raffle_core::validation::ValidationNumber::parse(&codes[0]).unwrap();
    assert_eq!(vn.commitment(raffle.as_str()), sale.record.validation.0);
    assert!(
        raffle_rsu::ticket::verify_record_code(&codes[1], &rig.store.load().unwrap().public())
            .is_some()
    );
    // Too little cash: no sale.
    let e = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(999), Lang::En)).unwrap_err();
    assert!(matches!(e, Error::Payment(_)), "{e}");

    // Card: declined and timed out make no sale (a timeout is reversed);
    // approved keeps only the terminal's reference.
    rig.terminal
        .script(&[Scripted::Decline, Scripted::Timeout, Scripted::Approve]);
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap_err();
    assert!(matches!(e, Error::Payment(_)), "{e}");
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap_err();
    assert!(e.to_string().contains("reversed"), "{e}");
    let card = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap();
    assert_eq!(card.record.seq.0, 2);
    let settled = rig.terminal.settled();
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(
        settled[0].0.starts_with("gate-3-2-") && settled[0].1 == 500,
        "{settled:?}"
    );
    let (text, _) = read_ticket(&rig.printer.printed()[1]);
    assert!(text.contains("Numéro de tirage"), "{text}");

    // The printer runs out of paper mid-ticket: the sale stands, its
    // ticket is owed, and nothing else sells until it is reprinted.
    rig.printer.fail_after(300, Fault::PaperOut);
    let torn = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
    assert_eq!(torn.printed, Err(Problem::PaperOut));
    let o = blocking(|| unit.overview()).unwrap();
    assert_eq!(o.unprinted.len(), 1);
    assert_eq!(o.printer.blocking(), Some(Problem::PaperOut));
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap_err();
    assert!(e.to_string().contains("did not print"), "{e}");
    rig.printer.set_paper(Paper::Ok);
    // A reprint needs a second operator (GLI-31 2.4).
    let e = blocking(|| unit.reprint(3, &rig.seller(), SELLER_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("second operator"), "{e}");
    let e = blocking(|| unit.reprint(3, &rig.supervisor(), "00000001", Lang::En)).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    blocking(|| unit.reprint(3, &rig.supervisor(), SUPERVISOR_PIN, Lang::En))
        .unwrap()
        .unwrap();
    let (text, codes) = read_ticket(rig.printer.printed().last().unwrap());
    assert!(text.contains("REPRINT 1"), "{text}");
    assert_eq!(
        raffle_core::validation::ValidationNumber::parse(&codes[0])
            .unwrap()
            .commitment(raffle.as_str()),
        torn.record.validation.0
    );

    // The cover opens mid-ticket: this time the sale is voided instead.
    rig.printer.fail_after(200, Fault::CoverOpen);
    let torn2 = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
    assert_eq!(torn2.printed, Err(Problem::CoverOpen));
    rig.printer.set_cover_open(false);
    blocking(|| unit.void(4, VoidReason::Misprint, &rig.supervisor(), SUPERVISOR_PIN)).unwrap();
    assert!(blocking(|| unit.overview()).unwrap().unprinted.is_empty());
    // A voided sale's ticket never prints.
    let e = blocking(|| unit.reprint(4, &rig.supervisor(), SUPERVISOR_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("voided"), "{e}");
    // Sales wait to upload: no signing out.
    let e = blocking(|| unit.sign_out()).unwrap_err();
    assert!(e.to_string().contains("wait to upload"), "{e}");

    let synced = blocking(|| unit.sync()).unwrap();
    assert_eq!(synced.uploaded, 4);
    assert_eq!(synced.waiting, 0, "{synced:?}");
    assert!(synced.refused.is_empty(), "{synced:?}");
    // The server holds the four sales, the reprint and the void request.
    assert_eq!(
        rig.app
            .state
            .sequencer
            .ledger()
            .device("gate-3")
            .unwrap()
            .head
            .seq,
        4
    );
    let reprints = rig.entries("rsu.reprinted").await;
    assert_eq!(reprints.len(), 1);
    assert_eq!(reprints[0]["supervisor"], rig.supervisor());
    let sale = raffle_core::rsu::sale_id(&"gate-3".parse().unwrap(), 4);
    assert!(
        rig.app
            .state
            .store
            .pending_void(sale.as_str())
            .await
            .unwrap()
            .is_some(),
        "the void waits for finance's approval"
    );
    // Acknowledged and printed: the unit keeps no validation number.
    for seq in 1..=4 {
        assert_eq!(
            unit.journal().validation_number(seq).unwrap(),
            None,
            "sale {seq}"
        );
    }
    // The drawer: the float and three cash sales, less the voided one.
    let o = blocking(|| unit.overview()).unwrap();
    assert_eq!(o.drawer, (5_000, 1_500, 0));
    blocking(|| unit.sign_out()).unwrap();
    // The encrypted backup opens with the unit's key and holds the journal.
    let sealed = std::fs::read(rig.dir.path().join("journal.backup")).unwrap();
    let plain =
        raffle_rsu::keystore::open_backup(&rig.store.backup_key().unwrap(), &sealed).unwrap();
    assert!(plain.starts_with(b"SQLite format 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_limits_stop_selling_and_sign_in_is_needed_again() {
    let rig = Rig::new().await;
    let settings = Settings {
        limits: Limits {
            max_unsynced: 3,
            max_offline_micros: 150_000_000,
        },
        idle_lock_secs: 60,
        reauth_offline_secs: 90,
        ..Settings::default()
    };
    let mut unit = rig.unit(settings).unwrap();
    let raffle = rig.raffle.clone();
    let sell =
        |unit: &mut Unit| blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En));
    blocking(|| unit.sync()).unwrap();
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    for _ in 0..3 {
        sell(&mut unit).unwrap();
    }
    // The buffer: three unsynced sales (GLI-31 6.1.4).
    assert!(matches!(sell(&mut unit), Err(Error::MustSync(_))));
    blocking(|| unit.sync()).unwrap();
    sell(&mut unit).unwrap();
    // Idle: the session locks; the PIN opens it.
    rig.clock.advance_secs(61);
    let e = sell(&mut unit).unwrap_err();
    assert!(e.to_string().contains("idle"), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    // Offline: it sells on, then asks for the PIN again after the
    // offline period, then stops at the offline duration.
    rig.cut.store(true, Ordering::SeqCst);
    assert!(blocking(|| unit.sync()).is_err());
    rig.clock.advance_secs(50);
    sell(&mut unit).unwrap();
    rig.clock.advance_secs(50);
    let e = sell(&mut unit).unwrap_err();
    assert!(e.to_string().contains("offline"), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    let e = sell(&mut unit).unwrap_err();
    assert!(matches!(e, Error::MustSync(_)), "{e}");
    let o = blocking(|| unit.overview()).unwrap();
    assert!(!o.online);
    assert_eq!(o.waiting, 2);
    // The network returns: everything uploads and selling resumes.
    rig.cut.store(false, Ordering::SeqCst);
    let synced = blocking(|| unit.sync()).unwrap();
    assert_eq!((synced.uploaded, synced.waiting), (2, 0));
    sell(&mut unit).unwrap();
    blocking(|| unit.sync()).unwrap();
    assert_eq!(
        rig.app
            .state
            .sequencer
            .ledger()
            .device("gate-3")
            .unwrap()
            .head
            .seq,
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_edited_by_hand_stops_the_unit_says_why_and_is_reported() {
    let rig = Rig::new().await;
    let raffle = rig.raffle.clone();
    {
        let mut unit = rig.unit(Settings::default()).unwrap();
        blocking(|| unit.sync()).unwrap();
        blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
        for _ in 0..3 {
            blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
        }
    }
    // The price of the second sale lowered by hand.
    let db = rusqlite::Connection::open(rig.dir.path().join("journal.sqlite")).unwrap();
    db.execute(
        "UPDATE records SET record = replace(record, '\"minor\":\"500\"', '\"minor\":\"5\"') WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(db);
    let mut unit = rig.unit(Settings::default()).unwrap();
    let o = blocking(|| unit.overview()).unwrap();
    let why = o.stopped.expect("stopped");
    assert!(
        why.contains("record 2") && why.contains("signature"),
        "{why}"
    );
    let e = blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap_err();
    assert!(e.to_string().contains("selling is stopped"), "{e}");
    // Reported when next online (GLI-31 3.4.4, 2.8.1 g).
    assert!(blocking(|| unit.sync()).is_err());
    let (_, events) = call(
        &rig.app,
        "GET",
        "/api/v1/events?kind=journal_corrupt",
        Some(&rig.staff.admin.token),
        Value::Null,
    )
    .await;
    assert!(events.to_string().contains("gate-3"), "{events}");
    assert!(events.to_string().contains("record 2"), "{events}");
}
