//! The sales unit: selling, sign-in, printing, payments and sync, over the
//! journal and the ports (printer, card terminal, clock, key store,
//! transport). Both shells (the kiosk UI and the headless mode) drive it;
//! an Android shell would too.
//!
//! Guarantees:
//! - a sale is journaled, signed and chained, before its ticket prints,
//!   and a ticket that did not print whole is kept as such until it is
//!   reprinted or voided, both supervised by a second operator (GLI-31
//!   3.3.2, 2.4); no further sale starts while one is outstanding;
//! - only a signed-in operator on the server's signed operator list sells
//!   (3.2.2); the session locks when idle and needs the PIN again after an
//!   offline period (6.1.4); the operator cannot sign out while sales wait
//!   to upload;
//! - the unit sells within its offline limits (6.1.4), from its allocated
//!   numbers, within the raffle's sales period;
//! - every answer of the server is checked against the log's key pinned
//!   at enrolment before anything in it is believed; the one kept is
//!   checked again at each start;
//! - a corrupt journal stops selling, says why, and is reported to the
//!   server at the next contact (3.4.4, 2.8.1 g).

use crate::book::KeptAnswer;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::journal::{Journal, Limits, NewSale};
use crate::payment::{CardOutcome, CardTerminal};
use crate::printer::{Printer, Problem, Status as PrinterStatus};
use crate::server::{self, Answer, RaffleDetails, Transport};
use crate::ticket;
use raffle_core::entry::{
    Digest32, HexBytes, PaymentMethod, RsuRecord, RsuReprinted, RsuSealed, U64, VoidReason,
};
use raffle_core::ids::{PackageId, RaffleId, RsuId, StaffId};
use raffle_core::rsu::{self, DeviceKey};
use raffle_core::{Money, Timestamp};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The software's identity, shown on every screen (GLI-31 3.5).
pub const SOFTWARE: &str = concat!("raffle-rsu ", env!("CARGO_PKG_VERSION"));

/// How the unit behaves: the regulator's offline limits and the session
/// rules.
#[derive(Clone, Debug)]
pub struct Settings {
    pub limits: Limits,
    /// The session locks after this long without use.
    pub idle_lock_secs: i64,
    /// Offline for longer than this since the last sign-in or answer, the
    /// operator signs in again (GLI-31 6.1.4).
    pub reauth_offline_secs: i64,
    /// Wrong PINs in a row before sign-in locks, and for how long.
    pub max_pin_failures: u32,
    pub pin_lockout_secs: i64,
    /// A backup of the journal after this many sales (and after each sync).
    pub backup_every: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            limits: Limits {
                max_unsynced: 500,
                max_offline_micros: 4 * 3600 * 1_000_000,
            },
            idle_lock_secs: 300,
            reauth_offline_secs: 3600,
            max_pin_failures: 5,
            pin_lockout_secs: 300,
            // Every sale: a journal restored from its backup lacks none.
            backup_every: 1,
        }
    }
}

/// The signed-in operator.
#[derive(Clone, Debug)]
pub struct Session {
    pub operator: StaffId,
    pub signed_in: Timestamp,
    pub last_activity: Timestamp,
    /// Locked (idle, or offline too long): the PIN opens it again.
    pub locked: Option<String>,
}

/// How the buyer pays.
#[derive(Clone, Copy, Debug)]
pub enum Tender {
    /// Cash handed over, in minor units.
    Cash(u64),
    Card,
}

/// A sale made.
#[derive(Clone, Debug)]
pub struct Sale {
    pub record: RsuRecord,
    /// Whether its ticket printed whole, or what stopped it.
    pub printed: std::result::Result<(), Problem>,
    /// Change to hand back, in minor units.
    pub change: u64,
}

/// What a sync did.
#[derive(Clone, Debug, Default)]
pub struct Synced {
    /// Records the server now holds that it did not.
    pub uploaded: u64,
    /// Records, seals, reprints and voids still to send.
    pub waiting: u64,
    pub refused: Vec<(u64, String)>,
}

/// What the screens show.
#[derive(Clone, Debug)]
pub struct Overview {
    pub rsu: RsuId,
    pub software: &'static str,
    pub session: Option<Session>,
    pub stopped: Option<String>,
    pub disabled: bool,
    pub online: bool,
    pub last_error: Option<String>,
    pub last_contact: Option<Timestamp>,
    pub waiting: u64,
    pub unprinted: Vec<crate::book::Unprinted>,
    pub refusals: Vec<(u64, String)>,
    pub printer: PrinterStatus,
    /// Floats, cash sales, drops (minor units).
    pub drawer: (u64, u64, u64),
    pub raffles: Vec<(RaffleId, RaffleDetails, u64, Vec<String>)>,
    /// The server's clock minus the unit's, at the last answer (seconds).
    pub clock_offset: Option<i64>,
}

/// The unit's fixed identity: its id, its log and the log's key.
pub struct Identity {
    pub rsu: RsuId,
    pub origin: String,
    pub log_key: transparency::NoteVerifier,
}

pub struct Unit {
    journal: Journal,
    key: DeviceKey,
    id: Identity,
    clock: Box<dyn Clock>,
    printer: Box<dyn Printer>,
    terminal: Option<Box<dyn CardTerminal>>,
    transport: Box<dyn Transport>,
    settings: Settings,
    session: Option<Session>,
    stopped: Option<String>,
    /// A corruption not yet reported to the server.
    unreported: Option<String>,
    answer: Option<Answer>,
    online: bool,
    last_error: Option<String>,
    clock_offset: Option<i64>,
    backup: Option<(PathBuf, [u8; 32])>,
    sales_since_backup: u64,
}

/// The ports a unit is built with.
pub struct Ports {
    pub clock: Box<dyn Clock>,
    pub printer: Box<dyn Printer>,
    /// The card terminal, if the unit has one: without it the unit takes
    /// cash only.
    pub terminal: Option<Box<dyn CardTerminal>>,
    pub transport: Box<dyn Transport>,
}

impl Unit {
    /// Opens the unit's journal at `path` and checks it whole, and the
    /// server's answer kept in it. A corrupt journal opens stopped: the
    /// unit sells nothing and reports the corruption when next online.
    pub fn open(
        path: &std::path::Path,
        id: Identity,
        key: DeviceKey,
        ports: Ports,
        settings: Settings,
        backup: Option<(PathBuf, [u8; 32])>,
    ) -> Result<Unit> {
        let (journal, stopped) = match Journal::open(path, &id.origin, &id.rsu, key.public()) {
            Ok(j) => (j, None),
            Err(e @ Error::Corrupt { .. }) => (
                Journal::open_unchecked(path, &id.origin, &id.rsu, key.public())?,
                Some(e.to_string()),
            ),
            Err(e) => return Err(e),
        };
        let mut unit = Unit {
            journal,
            key,
            id,
            clock: ports.clock,
            printer: ports.printer,
            terminal: ports.terminal,
            transport: ports.transport,
            settings,
            session: None,
            unreported: stopped.clone(),
            stopped,
            answer: None,
            online: false,
            last_error: None,
            clock_offset: None,
            backup,
            sales_since_backup: 0,
        };
        if unit.stopped.is_none()
            && let Err(why) = unit.check_kept_answer()?
        {
            unit.unreported = Some(why.clone());
            unit.stopped = Some(why);
        }
        Ok(unit)
    }

    /// Checks the server's last answer kept in the journal (its signature,
    /// and that the journal's acknowledged head and ranges are the
    /// answer's), and takes it in; `Err` says what was altered.
    fn check_kept_answer(&mut self) -> Result<std::result::Result<(), String>> {
        let (acked, acked_hash) = self.journal.acknowledged()?;
        let Some(k) = self.journal.kept_answer()? else {
            return Ok(if acked > 0 || !self.journal.allocations()?.is_empty() {
                Err("the journal's copy of the server's answer is missing".into())
            } else {
                Ok(())
            });
        };
        let Some(a) = self.read_answer(&k.body, &k.signature, &k.nonce) else {
            return Ok(Err(
                "the journal's copy of the server's answer was altered (operators or raffles)"
                    .into(),
            ));
        };
        if a.head.parse()
            != Some(rsu::Head {
                seq: acked,
                hash: acked_hash,
            })
        {
            return Ok(Err(
                "the journal's acknowledged head is not the server's last answer's".into(),
            ));
        }
        let mut signed: Vec<(String, u64, u64)> = a
            .raffles
            .iter()
            .filter(|r| !r.released)
            .flat_map(|r| {
                r.numbers()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |(f, c)| (r.raffle.to_string(), f, c))
            })
            .collect();
        signed.sort();
        if signed != self.journal.allocations()? {
            return Ok(Err(
                "the journal's allocations are not the server's last answer's".into(),
            ));
        }
        self.answer = Some(a);
        Ok(Ok(()))
    }

    /// An answer whose signature is the log key's over its body and nonce.
    fn read_answer(&self, body: &[u8], signature: &[u8], nonce: &str) -> Option<Answer> {
        if !server::answer_verifies(
            &self.id.log_key,
            &self.id.origin,
            self.id.rsu.as_str(),
            nonce,
            body,
            signature,
        ) {
            return None;
        }
        let a: Answer = serde_json::from_slice(body).ok()?;
        (a.nonce == nonce && a.rsu == self.id.rsu.as_str()).then_some(a)
    }

    pub fn rsu(&self) -> &RsuId {
        &self.id.rsu
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn not_stopped(&self) -> Result<()> {
        match &self.stopped {
            Some(why) => Err(Error::Refused(format!(
                "selling is stopped: {why}. Call the raffle's administrator."
            ))),
            None => Ok(()),
        }
    }

    fn disabled(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| a.status != "enabled")
    }

    // ---- Sign-in (GLI-31 3.2.2, 6.1.4) ----

    /// Whether `pin` is `staff`'s on the signed operator list now valid.
    fn pin_checks(&mut self, staff: &str, pin: &str) -> Result<()> {
        let now = self.now();
        let (failures, locked_until) = self.journal.signin_state()?;
        if let Some(until) = locked_until
            && now.as_micros() < until
        {
            return Err(Error::SignIn(format!(
                "too many wrong PINs: sign-in is locked until {}",
                ticket::local_time(Timestamp::from_micros(until), "UTC")
            )));
        }
        let Some(answer) = &self.answer else {
            return Err(Error::SignIn(
                "the unit has no operator list yet: connect it to the server".into(),
            ));
        };
        if now > answer.operators.expires {
            return Err(Error::SignIn(
                "the operator list expired: connect the unit to the server".into(),
            ));
        }
        let hash = answer
            .operators
            .list
            .iter()
            .find(|o| o.staff_id == staff)
            .map(|o| o.pin_hash.clone());
        let ok = hash.is_some_and(|h| pin_matches(&h, pin));
        if ok {
            self.journal.set_signin_state(0, None)?;
            return Ok(());
        }
        let failures = failures + 1;
        let lock = (failures >= self.settings.max_pin_failures).then(|| {
            now.as_micros()
                .saturating_add(self.settings.pin_lockout_secs * 1_000_000)
        });
        self.journal
            .set_signin_state(if lock.is_some() { 0 } else { failures }, lock)?;
        Err(Error::SignIn(
            "that staff id and PIN are not an operator's on this unit".into(),
        ))
    }

    /// Signs an operator in (or opens the locked session).
    pub fn sign_in(&mut self, staff: &str, pin: &str) -> Result<()> {
        self.not_stopped()?;
        // Another operator taking over is the first signing out.
        if let Some(s) = &self.session
            && s.operator.as_str() != staff
        {
            let waiting = self.waiting()?;
            if waiting > 0 {
                return Err(Error::Refused(format!(
                    "{waiting} sales or requests of {} wait to upload: sync before another operator signs in",
                    s.operator
                )));
            }
        }
        self.pin_checks(staff, pin)?;
        let operator: StaffId = staff
            .parse()
            .map_err(|_| Error::SignIn("that is not a staff id".into()))?;
        let now = self.now();
        self.session = Some(Session {
            operator,
            signed_in: now,
            last_activity: now,
            locked: None,
        });
        Ok(())
    }

    /// Signs out: refused while sales, seals, reprints or voids wait to
    /// upload.
    pub fn sign_out(&mut self) -> Result<()> {
        let waiting = self.waiting()?;
        if waiting > 0 {
            return Err(Error::Refused(format!(
                "{waiting} sales or requests wait to upload: sync before signing out"
            )));
        }
        self.session = None;
        Ok(())
    }

    /// The operator, when the session is open: locks it when idle or
    /// offline too long, or when the operator list no longer admits them.
    /// Why the session is locked now, if it is (idle, offline too long,
    /// or no longer on the list); reads only.
    fn lock_reason(&self, s: &Session) -> Result<Option<String>> {
        if s.locked.is_some() {
            return Ok(s.locked.clone());
        }
        let now = self.now();
        let last_contact = self.journal.last_contact()?;
        let idle = now.as_micros() - s.last_activity.as_micros();
        let since = s
            .signed_in
            .as_micros()
            .max(last_contact.unwrap_or(i64::MIN));
        let listed = self.answer.as_ref().is_some_and(|a| {
            now <= a.operators.expires
                && a.operators
                    .list
                    .iter()
                    .any(|o| o.staff_id == s.operator.as_str())
        });
        Ok(if idle > self.settings.idle_lock_secs * 1_000_000 {
            Some("locked after being idle: enter your PIN".into())
        } else if now.as_micros() - since > self.settings.reauth_offline_secs * 1_000_000 {
            Some("the unit has been offline a long time: enter your PIN again".into())
        } else if !listed {
            Some("the operator list changed or expired: sign in again".into())
        } else {
            None
        })
    }

    /// The operator, when the session is open (an operator's action: it
    /// counts as activity); locks it when idle or offline too long, or when
    /// the operator list no longer admits them.
    fn operator(&mut self) -> Result<StaffId> {
        let Some(s) = self.session.clone() else {
            return Err(Error::SignIn("sign in first".into()));
        };
        let lock = self.lock_reason(&s)?;
        let now = self.now();
        let s = self.session.as_mut().expect("a session");
        if let Some(why) = lock {
            s.locked = Some(why.clone());
            return Err(Error::SignIn(why));
        }
        s.last_activity = now;
        Ok(s.operator.clone())
    }

    /// A second operator's PIN, for a supervised action (GLI-31 2.4).
    fn supervisor(&mut self, operator: &StaffId, supervisor: &str, pin: &str) -> Result<StaffId> {
        if supervisor == operator.as_str() {
            return Err(Error::SignIn(
                "the supervisor must be a second operator".into(),
            ));
        }
        self.pin_checks(supervisor, pin)?;
        supervisor
            .parse()
            .map_err(|_| Error::SignIn("that is not a staff id".into()))
    }

    // ---- Selling (GLI-31 6.1.4, 3.2.1, 2.3.1) ----

    fn raffle(&self, raffle: &RaffleId) -> Result<RaffleDetails> {
        self.answer
            .as_ref()
            .and_then(|a| a.raffles.iter().find(|r| &r.raffle == raffle))
            .and_then(|r| r.details.clone())
            .ok_or_else(|| Error::Refused("the unit does not sell that raffle".into()))
    }

    /// Sells `quantity` of `package` in `raffle`, paid by `tender`, and
    /// prints the ticket.
    pub fn sell(
        &mut self,
        raffle: &RaffleId,
        package: &PackageId,
        quantity: u32,
        tender: Tender,
        lang: Lang,
    ) -> Result<Sale> {
        self.not_stopped()?;
        if self.disabled() {
            return Err(Error::Refused(
                "the server disabled this unit: it sells nothing".into(),
            ));
        }
        let operator = self.operator()?;
        if let Some(u) = self.journal.unprinted()?.first() {
            return Err(Error::Refused(format!(
                "sale {}'s ticket did not print: reprint or void it first",
                u.seq
            )));
        }
        let details = self.raffle(raffle)?;
        let now = self.now();
        if !details.open || now < details.sales_start || now >= details.sales_end {
            return Err(Error::Refused("the raffle is not on sale now".into()));
        }
        if let Some(off) = self.clock_offset
            && off.abs() > rsu::MAX_CLOCK_SKEW_MICROS / 1_000_000
        {
            return Err(Error::Refused(format!(
                "the unit's clock is {off} s off the server's: have it set before selling"
            )));
        }
        for d in &details.draws {
            if d.cutoff > now && self.journal.has_seal(raffle.as_str(), d.id.as_str())? {
                return Err(Error::Refused(format!(
                    "the unit sealed for {} but its clock is before that draw's cutoff: have it set",
                    d.name
                )));
            }
        }
        let p = details
            .packages
            .iter()
            .find(|p| &p.id == package)
            .ok_or_else(|| Error::Refused("the raffle has no such package".into()))?;
        if !(1..=100).contains(&quantity) {
            return Err(Error::Refused("a quantity is 1 to 100".into()));
        }
        let count = u64::from(p.tickets)
            .checked_mul(u64::from(quantity))
            .ok_or_else(|| Error::Refused("too many numbers".into()))?;
        let price = Money::new(
            p.price
                .minor
                .checked_mul(u64::from(quantity))
                .ok_or_else(|| Error::Refused("the price overflows".into()))?,
            p.price.currency,
        );
        if let Some(problem) = self.printer.status().blocking() {
            return Err(Error::Printer(problem.code()));
        }
        // Before any money moves: the limits and the numbers.
        self.journal
            .can_sell(raffle, count, now, &self.settings.limits)?;
        // Unique per attempt: a retried charge after a reversal is a new one.
        let order = format!(
            "{}-{}-{}",
            self.id.rsu,
            self.journal.head()?.seq + 1,
            &server::nonce().map_err(Error::Random)?[..8]
        );
        let (method, reference, tendered, change) = match tender {
            Tender::Cash(given) => {
                let change = given.checked_sub(price.minor).ok_or_else(|| {
                    Error::Payment(format!(
                        "{} handed over is less than the price, {}",
                        ticket::money(Money::new(given, price.currency)),
                        ticket::money(price)
                    ))
                })?;
                (PaymentMethod::Cash, None, Some(given), change)
            }
            Tender::Card => match self
                .terminal
                .as_mut()
                .ok_or_else(|| Error::Payment("this unit has no card terminal: cash only".into()))?
                .charge(price, &order)
            {
                CardOutcome::Approved { reference } => {
                    (PaymentMethod::Card, Some(reference), None, 0)
                }
                CardOutcome::Declined { reason } => return Err(Error::Payment(reason)),
                CardOutcome::TimedOut => {
                    if let Some(t) = self.terminal.as_mut() {
                        t.reverse(&order);
                    }
                    return Err(Error::Payment(
                        "the terminal did not answer: the charge was reversed, try again".into(),
                    ));
                }
            },
        };
        let sale = NewSale {
            raffle: raffle.clone(),
            package: package.clone(),
            quantity,
            count,
            price,
            payment: method,
            operator,
            reference,
            tendered,
        };
        let (record, vn) = match self
            .journal
            .sell(&self.key, &sale, now, &self.settings.limits)
        {
            Ok(x) => x,
            Err(e) => {
                if method == PaymentMethod::Card
                    && let Some(t) = self.terminal.as_mut()
                {
                    t.reverse(&order);
                }
                return Err(e);
            }
        };
        let printed = self.print(&record, &vn, 0, lang)?;
        self.sales_since_backup += 1;
        if self.sales_since_backup >= self.settings.backup_every {
            self.backup_now()?;
        }
        Ok(Sale {
            record,
            printed,
            change,
        })
    }

    fn print(
        &mut self,
        record: &RsuRecord,
        vn: &str,
        reprint: u32,
        lang: Lang,
    ) -> Result<std::result::Result<(), Problem>> {
        let details = self.raffle(&record.raffle)?;
        let job = ticket::render(&ticket::Ticket {
            origin: &self.id.origin,
            raffle: &ticket::RaffleDetails {
                name: details.name.clone(),
                organisation: details.organisation.clone(),
                licence: details.licence.clone(),
                time_zone: details.time_zone.clone(),
            },
            record,
            validation_number: vn,
            reprint,
            lang,
        });
        Ok(match self.printer.print(&job) {
            Ok(()) => {
                self.journal.printed(record.seq.0)?;
                Ok(())
            }
            Err(p) => {
                self.journal.not_printed(record.seq.0, p.code())?;
                Err(p)
            }
        })
    }

    fn own_record(&self, seq: u64) -> Result<RsuRecord> {
        self.journal
            .record(seq)?
            .ok_or_else(|| Error::Refused(format!("the unit has no sale {seq}")))
    }

    /// Prints sale `seq`'s ticket again, marked REPRINT, supervised by a
    /// second operator (GLI-31 2.4); signed and sent to the server.
    pub fn reprint(
        &mut self,
        seq: u64,
        supervisor: &str,
        supervisor_pin: &str,
        lang: Lang,
    ) -> Result<std::result::Result<(), Problem>> {
        self.not_stopped()?;
        let operator = self.operator()?;
        let record = self.own_record(seq)?;
        if self.journal.void_asked(seq)? {
            return Err(Error::Refused("that sale is being voided".into()));
        }
        // Only a ticket that did not print whole is printed again: a second
        // paper copy of a printed one could claim its prize twice.
        if self.journal.copies(seq)? > 0 {
            return Err(Error::Refused(
                "that sale's ticket printed: it is not printed again (void it if it is spoiled)"
                    .into(),
            ));
        }
        let Some(vn) = self.journal.validation_number(seq)? else {
            return Err(Error::Refused(
                "the server holds that sale and the unit no longer keeps its validation number: void it instead".into(),
            ));
        };
        let copy = self.journal.pending_reprints(seq)? + 1;
        if copy > rsu::MAX_REPRINTS {
            return Err(Error::Refused(format!(
                "a ticket is reprinted at most {} times: void it instead",
                rsu::MAX_REPRINTS
            )));
        }
        if let Some(problem) = self.printer.status().blocking() {
            return Err(Error::Printer(problem.code()));
        }
        let supervisor = self.supervisor(&operator, supervisor, supervisor_pin)?;
        let mut r = RsuReprinted {
            raffle: record.raffle.clone(),
            rsu: self.id.rsu.clone(),
            seq: record.seq,
            copy,
            operator,
            supervisor,
            device_time: self.journal_time()?,
            signature: HexBytes(Vec::new()),
            received: Timestamp::from_micros(0),
        };
        self.key.sign_reprint(&self.id.origin, &mut r);
        let wire = json!({
            "raffle": r.raffle, "seq": r.seq, "copy": r.copy, "operator": r.operator,
            "supervisor": r.supervisor, "device_time": r.device_time, "signature": r.signature,
        });
        self.journal.keep_request("reprint", seq, &wire)?;
        self.print(&record, &vn, copy, lang)
    }

    /// Asks for the void of sale `seq` (GLI-31 2.3.3), supervised by a
    /// second operator; finance approves it on the server. The price is
    /// handed back at the unit.
    pub fn void(
        &mut self,
        seq: u64,
        reason: VoidReason,
        supervisor: &str,
        supervisor_pin: &str,
    ) -> Result<()> {
        self.not_stopped()?;
        let operator = self.operator()?;
        let record = self.own_record(seq)?;
        if self.journal.void_asked(seq)? {
            return Err(Error::Refused(
                "a void of that sale was asked already".into(),
            ));
        }
        let supervisor = self.supervisor(&operator, supervisor, supervisor_pin)?;
        let at = self.journal_time()?;
        let message = rsu::void_message(
            &self.id.origin,
            &record.raffle,
            &self.id.rsu,
            seq,
            reason,
            &operator,
            &supervisor,
            at,
        );
        let signature = HexBytes(self.key.sign(&message).to_vec());
        let wire = json!({
            "raffle": record.raffle, "seq": U64(seq), "reason": reason, "operator": operator,
            "supervisor": supervisor, "device_time": at, "signature": signature,
        });
        self.journal.keep_request("void", seq, &wire)?;
        Ok(())
    }

    /// The time for a signed request: now, never before the journal's
    /// last record (the server refuses a clock running backwards).
    fn journal_time(&self) -> Result<Timestamp> {
        Ok(self.now())
    }

    /// Records a float handed to the unit, or a drop taken from it.
    pub fn cash(&mut self, kind: &str, amount: u64) -> Result<()> {
        let operator = self.operator()?;
        if !matches!(kind, "float" | "drop") {
            return Err(Error::Refused("a cash count is a float or a drop".into()));
        }
        let at = self.now().as_micros();
        self.journal.cash(kind, amount, operator.as_str(), at)
    }

    // ---- Sync (GLI-31 6.1.2, 6.1.4) ----

    /// Records, seals, reprints and voids still to send.
    pub fn waiting(&self) -> Result<u64> {
        let head = self.journal.head()?;
        let (acked, _) = self.journal.acknowledged()?;
        Ok(head.seq.saturating_sub(acked) + self.journal.pending_count()?)
    }

    /// Signs the seals due: one per draw whose cutoff passed on the unit's
    /// clock, naming its last record before the cutoff.
    fn seal_due(&mut self) -> Result<()> {
        let Some(answer) = self.answer.clone() else {
            return Ok(());
        };
        let now = self.now();
        for r in &answer.raffles {
            let Some(details) = &r.details else { continue };
            for d in &details.draws {
                if d.cutoff > now
                    || r.sealed.iter().any(|s| s == d.id.as_str())
                    || self.journal.has_seal(r.raffle.as_str(), d.id.as_str())?
                {
                    continue;
                }
                let last = self.journal.last_before(d.cutoff)?;
                let (seq, hash) = match &last {
                    Some(rec) => (rec.seq.0, rsu::record_hash(&self.id.origin, rec)),
                    None => (0, rsu::GENESIS),
                };
                let mut seal = RsuSealed {
                    raffle: r.raffle.clone(),
                    draw: d.id.clone(),
                    rsu: self.id.rsu.clone(),
                    seq: U64(seq),
                    hash: Digest32(hash),
                    device_time: now,
                    signature: HexBytes(Vec::new()),
                };
                self.key.sign_seal(&self.id.origin, &mut seal);
                let wire = json!({
                    "raffle": seal.raffle, "draw": seal.draw, "seq": seal.seq, "hash": seal.hash,
                    "device_time": seal.device_time, "signature": seal.signature,
                });
                self.journal
                    .keep_seal(r.raffle.as_str(), d.id.as_str(), &wire.to_string())?;
            }
        }
        Ok(())
    }

    /// One signed request and its checked answer; `Ok(None)` for a nonce
    /// the server saw already (sent again with a fresh one).
    fn exchange(&mut self, body: &Value) -> Result<Option<(Answer, KeptAnswer)>> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Refused(e.to_string()))?;
        let nonce = server::nonce().map_err(Error::Random)?;
        let headers = server::signed_headers(
            &self.key,
            &self.id.origin,
            self.id.rsu.as_str(),
            &nonce,
            &body,
        );
        let path = format!("/api/v1/rsu/{}/sync", self.id.rsu);
        let reply = self
            .transport
            .post(&path, &headers, &body)
            .map_err(|e| Error::Server(format!("no answer ({e})")))?;
        let error: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let said = || {
            error["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&reply.body)
                        .chars()
                        .take(200)
                        .collect()
                })
        };
        match reply.status {
            200 => {}
            // The nonce was used before (a coincidence, or a replay): sign
            // again with a fresh one.
            409 if error["code"].is_null() && said().contains("nonce") => return Ok(None),
            409 if error["code"] == "rsu_head_forked" => {
                let why = "the server holds another history of this unit (a journal restored from an older backup, or a fork)".to_string();
                self.stopped = Some(why.clone());
                return Err(Error::Corrupt { seq: 0, why });
            }
            401 => {
                return Err(Error::Server(
                    "it does not know this unit's key: is the unit enrolled?".into(),
                ));
            }
            404 => return Err(Error::Server("this unit is not enrolled".into())),
            s => return Err(Error::Server(format!("status {s}: {}", said()))),
        }
        let sig = reply
            .signature
            .as_deref()
            .and_then(server::decode_signature)
            .ok_or_else(|| Error::Server("the answer is not signed".into()))?;
        let answer = self.read_answer(&reply.body, &sig, &nonce).ok_or_else(|| {
            Error::Server("the answer's signature is not the log's key's: not trusted".into())
        })?;
        Ok(Some((
            answer,
            KeptAnswer {
                body: reply.body,
                signature: sig,
                nonce,
            },
        )))
    }

    /// Tells the server the journal is corrupt (GLI-31 2.8.1 g), naming
    /// the head it acknowledged last.
    fn report_corruption(&mut self, why: &str) -> Result<()> {
        let (seq, hash) = self.journal.acknowledged()?;
        let body = json!({
            "head": { "seq": seq.to_string(), "hash": hex::encode(hash) },
            "software": SOFTWARE,
            "corruption": why.chars().take(200).collect::<String>(),
        });
        for _ in 0..3 {
            if self.exchange(&body)?.is_some() {
                self.unreported = None;
                self.online = true;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Uploads everything the server does not hold, in pages, with the
    /// seals due, reprints and void requests; checks the journal first.
    pub fn sync(&mut self) -> Result<Synced> {
        let result = self.sync_inner();
        match &result {
            Ok(_) => {
                self.online = true;
                self.last_error = None;
            }
            Err(e) => {
                if matches!(e, Error::Server(_)) {
                    self.online = false;
                }
                self.last_error = Some(e.to_string());
            }
        }
        result
    }

    fn sync_inner(&mut self) -> Result<Synced> {
        if self.stopped.is_none()
            && let Err(e @ Error::Corrupt { .. }) = self.journal.check()
        {
            self.stopped = Some(e.to_string());
            self.unreported = Some(e.to_string());
        }
        if let Some(why) = self.unreported.clone() {
            self.report_corruption(&why)?;
        }
        if let Some(why) = &self.stopped {
            return Err(Error::Refused(format!("selling is stopped: {why}")));
        }
        self.seal_due()?;
        let mut out = Synced::default();
        let mut stalls = 0;
        let mut nonce_retries = 0;
        for _ in 0..10_000 {
            let head = self.journal.head()?;
            let records = self.journal.unacknowledged(200)?;
            // Reprints and voids only of sales the server holds or this
            // page carries: of any other it would say "no such sale".
            let (acked, _) = self.journal.acknowledged()?;
            let reach = records.last().map_or(acked, |r| r.seq.0).max(acked);
            let seals = self.journal.pending_seals(16)?;
            let reprints: Vec<_> = self
                .journal
                .pending_requests("reprint", 16)?
                .into_iter()
                .filter(|r| r.seq <= reach)
                .collect();
            let voids: Vec<_> = self
                .journal
                .pending_requests("void", 16)?
                .into_iter()
                .filter(|r| r.seq <= reach)
                .collect();
            let body = json!({
                "head": { "seq": head.seq.to_string(), "hash": hex::encode(head.hash) },
                "software": SOFTWARE,
                "records": records,
                "seals": seals,
                "reprints": reprints.iter().map(|r| &r.wire).collect::<Vec<_>>(),
                "voids": voids.iter().map(|r| &r.wire).collect::<Vec<_>>(),
            });
            let Some((answer, kept)) = self.exchange(&body)? else {
                nonce_retries += 1;
                if nonce_retries > 3 {
                    return Err(Error::Server(
                        "the server keeps refusing fresh nonces".into(),
                    ));
                }
                continue;
            };
            let before = self.journal.acknowledged()?.0;
            let moved = self.apply(&answer, &kept, &reprints, &voids, &mut out)?;
            self.clock_offset = Some(answer.time.as_secs() - self.now().as_secs());
            self.answer = Some(answer);
            let after = self.journal.acknowledged()?.0;
            out.uploaded += after.saturating_sub(before);
            // New draws may be due now that the raffles are known.
            self.seal_due()?;
            out.waiting = self.waiting()?;
            if out.waiting == 0 {
                break;
            }
            if moved || after > before {
                stalls = 0;
            } else {
                stalls += 1;
                if stalls >= 2 {
                    break;
                }
            }
        }
        self.backup_now()?;
        Ok(out)
    }

    /// Takes in a verified answer (its acknowledgement, time, ranges and
    /// the answer itself in one transaction), then what it says of the
    /// seals, reprints and voids sent; whether anything was settled.
    fn apply(
        &mut self,
        a: &Answer,
        kept: &KeptAnswer,
        reprints: &[crate::book::Request],
        voids: &[crate::book::Request],
        out: &mut Synced,
    ) -> Result<bool> {
        let head = a
            .head
            .parse()
            .ok_or_else(|| Error::Server("the answer's head does not read".into()))?;
        let ours = self.journal.head()?;
        if head.seq > ours.seq {
            let why = format!(
                "the server holds {} records of this unit, the journal {}: records are gone",
                head.seq, ours.seq
            );
            self.stopped = Some(why.clone());
            self.unreported = Some(why.clone());
            return Err(Error::Corrupt {
                seq: ours.seq + 1,
                why,
            });
        }
        let ranges: Vec<(RaffleId, Vec<(u64, u64)>)> = a
            .raffles
            .iter()
            .map(|r| {
                let numbers = if r.released {
                    Vec::new()
                } else {
                    r.numbers().unwrap_or_default()
                };
                (r.raffle.clone(), numbers)
            })
            .collect();
        // The last contact is the unit's time of it: the offline limit runs
        // on the unit's clock, which the sale checks hold to the server's
        // (within the skew at each contact, never back before a contact).
        if let Err(e) = self.journal.take_answer(head, self.now(), &ranges, kept) {
            self.stopped = Some(e.to_string());
            self.unreported = Some(e.to_string());
            return Err(e);
        }
        let mut moved = false;
        for r in &a.rejected {
            let seq = r
                .seq
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| r.seq.as_u64())
                .unwrap_or(0);
            self.journal.refused(seq, &r.reason)?;
            out.refused.push((seq, r.reason.clone()));
        }
        for s in &a.seals {
            let code = s.result["code"].as_str();
            if s.result["log_index"].is_string() || code == Some("rsu_already_sealed") {
                self.journal.seal_logged(&s.raffle, &s.draw)?;
                moved = true;
            } else if let Some(why) = s.result["refused"].as_str() {
                self.journal.seal_refused(&s.raffle, &s.draw, why)?;
                moved = true;
            }
        }
        for r in &a.raffles {
            for d in &r.sealed {
                self.journal.seal_logged(r.raffle.as_str(), d)?;
            }
        }
        // Results name the sale (and the reprint's copy): matched on them,
        // not on their order.
        for (sent, results) in [(reprints, &a.reprints), (voids, &a.voids)] {
            for req in sent {
                let result = results.iter().find(|res| {
                    res["seq"].as_str() == Some(req.seq.to_string().as_str())
                        && (req.kind != "reprint" || res["copy"] == req.wire["copy"])
                });
                if let Some(res) = result
                    && res["result"].get("retry").is_none()
                {
                    self.journal
                        .settle_request(req.id, &res["result"].to_string())?;
                    moved = true;
                }
            }
        }
        Ok(moved)
    }

    /// Writes the encrypted backup of the journal (GLI-31 3.4.5), when a
    /// backup file is configured: to a new file, then renamed over the
    /// last, so a failure mid-write leaves the last backup whole.
    pub fn backup_now(&mut self) -> Result<()> {
        let Some((path, key)) = &self.backup else {
            return Ok(());
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let plain = self.journal.snapshot(dir)?;
        let sealed = crate::keystore::seal_backup(key, &plain)?;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &sealed)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| Error::Refused(format!("the backup {}: {e}", path.display())))?;
        self.sales_since_backup = 0;
        Ok(())
    }

    // ---- What the screens show ----

    pub fn overview(&mut self) -> Result<Overview> {
        // Reading the overview locks an idle session, and is no activity.
        if let Some(s) = self.session.clone() {
            let lock = self.lock_reason(&s)?;
            if let Some(session) = self.session.as_mut() {
                session.locked = lock;
            }
        }
        let mut raffles = Vec::new();
        if let Some(a) = &self.answer {
            for r in &a.raffles {
                if let Some(d) = &r.details {
                    let left = if r.released {
                        0
                    } else {
                        self.journal.numbers_left(r.raffle.as_str())?
                    };
                    raffles.push((r.raffle.clone(), d.clone(), left, r.sealed.clone()));
                }
            }
        }
        Ok(Overview {
            rsu: self.id.rsu.clone(),
            software: SOFTWARE,
            session: self.session.clone(),
            stopped: self.stopped.clone(),
            disabled: self.disabled(),
            online: self.online,
            last_error: self.last_error.clone(),
            last_contact: self.journal.last_contact()?.map(Timestamp::from_micros),
            waiting: self.waiting()?,
            unprinted: self.journal.unprinted()?,
            refusals: self.journal.refusals()?,
            printer: self.printer.status(),
            drawer: self.journal.drawer()?,
            raffles,
            clock_offset: self.clock_offset,
        })
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

/// Whether `pin` matches a server PIN hash (Argon2id, PHC string).
pub fn pin_matches(hash: &str, pin: &str) -> bool {
    use argon2::PasswordVerifier as _;
    argon2::PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(pin.as_bytes(), &h)
            .is_ok()
    })
}
