//! The unit's journal: every sale record it signed, in chain order, in one
//! SQLite file (GLI-31 3.4.3, 3.4.4, 6.1.4; the protocol is
//! `raffle_core::rsu`).
//!
//! Guarantees:
//! - a record is journaled signed and chained, in one transaction, before
//!   its ticket is printed: a sale the unit made is never lost, and its
//!   sequence and previous hash come from the journal, never the caller;
//! - [`Journal::check`] re-verifies the whole file: every record parses,
//!   sequences run 1, 2, ... without a gap, each names the previous
//!   record's hash, each stored hash is the record's, each signature is the
//!   unit's key's, and the head is not below what the server acknowledged.
//!   An edited, reordered, truncated or foreign record is reported with its
//!   sequence, and the unit stops selling ([`Error::Corrupt`]);
//! - once the server acknowledged a record, its validation number is
//!   dropped: the unit keeps only the commitment, so a unit cannot later
//!   claim its buyers' prizes.
//!
//! Assumptions: one process owns the file (the shell opens it once); the
//! device key is held by the caller (its encryption at rest is the key
//! store's, not this module's). A history rewritten with the unit's own
//! key is valid here: the server's logged heads (`rsu.seen`, seals) and
//! the buyers' printed records are what catch that.

use raffle_core::entry::{Digest32, HexBytes, NumberRange, PaymentMethod, RsuRecord, U64};
use raffle_core::ids::{PackageId, RaffleId, RsuId, StaffId};
use raffle_core::rsu::{self, DeviceKey, Head};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Money, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

pub use crate::error::{Error, Result};

/// A sale the operator rings up: what the record carries besides its
/// place in the chain, its numbers and its validation number.
#[derive(Clone, Debug)]
pub struct NewSale {
    pub raffle: RaffleId,
    pub package: PackageId,
    pub quantity: u32,
    /// How many draw numbers (the package's count times the quantity).
    pub count: u64,
    pub price: Money,
    pub payment: PaymentMethod,
    /// The operator signed in.
    pub operator: StaffId,
    /// The card terminal's reference of the payment (never a card number).
    pub reference: Option<String>,
    /// Cash handed over, in minor units (the change is the difference).
    pub tendered: Option<u64>,
}

/// How far a unit sells without the server (GLI-31 6.1.4; the regulator
/// sets them).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Records the server has not acknowledged.
    pub max_unsynced: u64,
    /// Microseconds since the server last answered.
    pub max_offline_micros: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS unit (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    rsu TEXT NOT NULL,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    acknowledged INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged >= 0),
    acknowledged_hash BLOB NOT NULL DEFAULT (zeroblob(32)),
    -- When the server last answered, by the unit's clock (microseconds
    -- since the epoch).
    last_contact INTEGER,
    -- Set when the journal was restored from a backup: it sells nothing
    -- until the server confirmed it holds no record the journal lacks.
    must_sync INTEGER NOT NULL DEFAULT 0
);
-- The unit's allocated ranges per raffle, as the server's last answer gave
-- them.
CREATE TABLE IF NOT EXISTS allocations (
    raffle TEXT NOT NULL,
    first INTEGER NOT NULL CHECK (first >= 1),
    count INTEGER NOT NULL CHECK (count >= 1),
    PRIMARY KEY (raffle, first)
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    record TEXT NOT NULL,
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    validation_number TEXT
);
-- How each sale was paid: the terminal's reference only, or the cash
-- handed over.
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY,
    method TEXT NOT NULL CHECK (method IN ('cash', 'card')),
    reference TEXT,
    tendered INTEGER CHECK (tendered >= 0)
);
-- Each sale's ticket: copies printed whole (0: not printed, to reprint or
-- void), and what stopped the last attempt.
CREATE TABLE IF NOT EXISTS tickets (
    seq INTEGER PRIMARY KEY,
    copies INTEGER NOT NULL DEFAULT 0 CHECK (copies >= 0),
    problem TEXT,
    -- Set once a void of the sale was asked for: no copy prints after.
    voided INTEGER NOT NULL DEFAULT 0
);
-- The last answer of the server whose signature verified, kept whole so
-- it is verified again at each start: the operator list and the raffles'
-- details come from it, and an edit of them breaks the signature.
CREATE TABLE IF NOT EXISTS answer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body BLOB NOT NULL,
    signature BLOB NOT NULL,
    nonce TEXT NOT NULL
);
-- Seals signed for a draw's cutoff, until the log holds them.
CREATE TABLE IF NOT EXISTS seals (
    raffle TEXT NOT NULL,
    draw TEXT NOT NULL,
    seal TEXT NOT NULL,
    -- 0 to send, 1 in the log, 2 refused for good (result says why).
    logged INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    PRIMARY KEY (raffle, draw)
);
-- Reprints and void requests signed on the unit, until the server settled
-- them (logged, refused, or a void's approval requested).
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('reprint', 'void')),
    seq INTEGER NOT NULL,
    wire TEXT NOT NULL,
    result TEXT,
    settled INTEGER NOT NULL DEFAULT 0
);
-- Records the server refused, with its reason (listed for refund).
CREATE TABLE IF NOT EXISTS refusals (
    seq INTEGER PRIMARY KEY,
    reason TEXT NOT NULL
);
-- The cash drawer: floats handed to the unit's sellers, drops taken from it.
CREATE TABLE IF NOT EXISTS cash (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('float', 'drop')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    operator TEXT NOT NULL,
    at INTEGER NOT NULL
);
-- Sign-in failures in a row, and until when sign-in is locked.
CREATE TABLE IF NOT EXISTS signin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
);
";

/// A unit's journal file.
pub struct Journal {
    pub(crate) conn: Connection,
    origin: String,
    rsu: RsuId,
    public_key: [u8; 32],
}

impl Journal {
    /// Opens (or creates) the journal of unit `rsu` in log `origin`, whose
    /// key is `public_key`, and checks it whole ([`Journal::check`]).
    pub fn open(path: &Path, origin: &str, rsu: &RsuId, public_key: [u8; 32]) -> Result<Journal> {
        let conn = Connection::open(path)?;
        // Durable before the ticket prints: a power cut after `append`
        // returns keeps the record.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A validation number dropped is overwritten, not left in a free
        // page for whoever reads the card later.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        let owner: Option<(String, String, Vec<u8>)> = conn
            .query_row(
                "SELECT origin, rsu, public_key FROM unit WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match owner {
            None => {
                conn.execute(
                    "INSERT INTO unit (id, origin, rsu, public_key) VALUES (1, ?1, ?2, ?3)",
                    params![origin, rsu.as_str(), &public_key[..]],
                )?;
            }
            Some((o, u, k)) if o == origin && u == rsu.as_str() && k == public_key => {}
            Some((o, u, _)) => {
                return Err(Error::NotThisUnits(format!(
                    "it is unit {u:?}'s of log {o:?}, or of another key"
                )));
            }
        }
        let journal = Journal {
            conn,
            origin: origin.to_string(),
            rsu: rsu.clone(),
            public_key,
        };
        journal.check()?;
        Ok(journal)
    }

    /// Opens the file without checking it: only to report that it is
    /// corrupt (its acknowledged head is what the report names).
    pub fn open_unchecked(
        path: &Path,
        origin: &str,
        rsu: &RsuId,
        public_key: [u8; 32],
    ) -> Result<Journal> {
        if !path.exists() {
            return Err(Error::NotThisUnits(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let conn = Connection::open(path)?;
        let journal = Journal {
            conn,
            origin: origin.to_string(),
            rsu: rsu.clone(),
            public_key,
        };
        journal.acknowledged()?;
        Ok(journal)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn rsu(&self) -> &RsuId {
        &self.rsu
    }

    /// Record `seq`, if the journal holds it.
    pub fn record(&self, seq: u64) -> Result<Option<RsuRecord>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM records WHERE seq = ?1",
                params![to_sql(seq)?],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|_| Error::Corrupt {
                seq,
                why: "the record does not read".into(),
            })
        })
        .transpose()
    }

    /// A consistent copy of the whole file (SQLite's online backup), for
    /// the encrypted backup (GLI-31 3.4.5).
    pub fn snapshot(&self, dir: &Path) -> Result<Vec<u8>> {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| Error::Refused(e.to_string()))?;
        let tmp = dir.join(format!("raffle-rsu-snapshot-{}.sqlite", hex::encode(rnd)));
        let result = (|| {
            let mut copy = Connection::open(&tmp)?;
            {
                let b = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
                b.run_to_completion(256, std::time::Duration::ZERO, None)?;
            }
            drop(copy);
            std::fs::read(&tmp).map_err(|e| Error::Refused(e.to_string()))
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// The journal's head: its last record's sequence and hash.
    pub fn head(&self) -> Result<Head> {
        let last: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match last {
            None => Head::EMPTY,
            Some((seq, hash)) => Head {
                seq: to_seq(seq)?,
                hash: to_hash(seq, hash)?,
            },
        })
    }

    /// Signs `draft` as the unit's next record (its sequence and previous
    /// hash are set here) and journals it with the validation number the
    /// ticket prints, in one transaction. Returns the signed record.
    pub fn append(
        &mut self,
        key: &DeviceKey,
        draft: RsuRecord,
        validation_number: &str,
    ) -> Result<RsuRecord> {
        self.append_paid(key, draft, validation_number, None, None)
    }

    /// [`Journal::append`], with the payment's reference or the cash
    /// handed over, in the same transaction, and the ticket to print.
    fn append_paid(
        &mut self,
        key: &DeviceKey,
        mut draft: RsuRecord,
        validation_number: &str,
        reference: Option<&str>,
        tendered: Option<u64>,
    ) -> Result<RsuRecord> {
        if key.public() != self.public_key {
            return Err(Error::NotThisUnits("the key is not the journal's".into()));
        }
        if draft.rsu != self.rsu {
            return Err(Error::Refused(format!(
                "the record names unit {}, not {}",
                draft.rsu, self.rsu
            )));
        }
        let tx = self.conn.transaction()?;
        let head = {
            let last: Option<(i64, Vec<u8>)> = tx
                .query_row(
                    "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match last {
                None => Head::EMPTY,
                Some((seq, hash)) => Head {
                    seq: to_seq(seq)?,
                    hash: to_hash(seq, hash)?,
                },
            }
        };
        draft.seq = U64(head.seq + 1);
        draft.prev = Digest32(head.hash);
        draft.signature = HexBytes(Vec::new());
        let hash = key.sign_record(&self.origin, &mut draft);
        let text = serde_json::to_string(&draft)
            .map_err(|e| Error::Refused(format!("the record does not serialise: {e}")))?;
        tx.execute(
            "INSERT INTO records (seq, record, hash, validation_number) VALUES (?1, ?2, ?3, ?4)",
            params![to_sql(draft.seq.0)?, text, &hash[..], validation_number],
        )?;
        tx.execute(
            "INSERT INTO payments (seq, method, reference, tendered) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_sql(draft.seq.0)?,
                draft.payment.as_str(),
                reference,
                tendered.map(to_sql).transpose()?
            ],
        )?;
        tx.execute(
            "INSERT INTO tickets (seq) VALUES (?1)",
            params![to_sql(draft.seq.0)?],
        )?;
        tx.commit()?;
        Ok(draft)
    }

    /// Re-verifies the whole journal (at start and before each sync);
    /// returns its head.
    pub fn check(&self) -> Result<Head> {
        let mut at = Head::EMPTY;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record, hash, validation_number FROM records ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let seq = to_seq(row.get::<_, i64>(0)?)?;
            let corrupt = |why: &str| Error::Corrupt {
                seq,
                why: why.to_string(),
            };
            if seq != at.seq + 1 {
                return Err(Error::Corrupt {
                    seq: at.seq + 1,
                    why: "the record is missing".into(),
                });
            }
            let text: String = row.get(1)?;
            let record: RsuRecord =
                serde_json::from_str(&text).map_err(|_| corrupt("the record does not read"))?;
            let stored = to_hash(row.get::<_, i64>(0)?, row.get(2)?)?;
            if record.seq.0 != seq || record.rsu != self.rsu {
                return Err(corrupt("the record is another place's or unit's"));
            }
            if record.prev.0 != at.hash {
                return Err(corrupt("it does not name the previous record's hash"));
            }
            if !rsu::verify(
                &self.public_key,
                &rsu::sale_message(&self.origin, &record),
                &record.signature.0,
            ) {
                return Err(corrupt("its signature is not the unit's"));
            }
            let hash = rsu::record_hash(&self.origin, &record);
            if hash != stored {
                return Err(corrupt("its stored hash is not the record's"));
            }
            let vn: Option<String> = row.get(3)?;
            if let Some(vn) = vn
                && ValidationNumber::parse(&vn)
                    .map(|v| v.commitment(record.raffle.as_str()))
                    .ok()
                    != Some(record.validation.0)
            {
                return Err(corrupt(
                    "its validation number is not the one it commits to",
                ));
            }
            at = Head { seq, hash };
        }
        let (acked, acked_hash) = self.acknowledged()?;
        if acked > at.seq {
            return Err(Error::Corrupt {
                seq: at.seq + 1,
                why: format!("the server acknowledged up to {acked}: records are gone"),
            });
        }
        if acked > 0 && self.hash_at(acked)? != Some(acked_hash) {
            return Err(Error::Corrupt {
                seq: acked,
                why: "it is not the record the server acknowledged".into(),
            });
        }
        Ok(at)
    }

    /// Records after the server's acknowledged head, in chain order, at
    /// most `limit` (a sync page).
    pub fn unacknowledged(&self, limit: usize) -> Result<Vec<RsuRecord>> {
        let (acked, _) = self.acknowledged()?;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record FROM records WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![to_sql(acked)?, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, text) = row?;
            let seq = to_seq(seq)?;
            out.push(serde_json::from_str(&text).map_err(|_| Error::Corrupt {
                seq,
                why: "the record does not read".into(),
            })?);
        }
        Ok(out)
    }

    /// The server acknowledged the chain up to `head` (its signed answer):
    /// the validation numbers up to there are dropped. An acknowledgement
    /// of a head the journal does not hold is refused.
    pub fn acknowledge(&mut self, head: Head) -> Result<()> {
        if head.seq == 0 {
            return Ok(());
        }
        if self.hash_at(head.seq)? != Some(head.hash) {
            return Err(Error::Refused(format!(
                "the server acknowledged record {} with another hash: the unit's history differs",
                head.seq
            )));
        }
        let (acked, _) = self.acknowledged()?;
        if head.seq <= acked {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        Self::set_acknowledged(&tx, head)?;
        tx.commit()?;
        // The write-ahead log held the numbers too: fold it back and empty it.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A record's validation number, while the server has not acknowledged
    /// it (a reprint needs it).
    pub fn validation_number(&self, seq: u64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT validation_number FROM records WHERE seq = ?1",
                params![to_sql(seq)?],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Takes in a verified answer of the server in one transaction: the
    /// head it acknowledged (validation numbers up to there dropped), the
    /// unit's time of it as the last contact, the unit's ranges per raffle (replacing
    /// those it had) and the answer itself, kept whole. A head the journal
    /// does not hold, or below what the server acknowledged before, is
    /// refused: the histories differ.
    pub fn take_answer(
        &mut self,
        head: Head,
        at: Timestamp,
        ranges: &[(RaffleId, Vec<(u64, u64)>)],
        kept: &crate::book::KeptAnswer,
    ) -> Result<()> {
        let (acked, _) = self.acknowledged()?;
        if head.seq < acked {
            return Err(Error::Corrupt {
                seq: acked,
                why: format!(
                    "the server's head is {} but the journal says it acknowledged {acked}",
                    head.seq
                ),
            });
        }
        if head.seq > 0 && self.hash_at(head.seq)? != Some(head.hash) {
            return Err(Error::Corrupt {
                seq: head.seq,
                why: "the server holds another record at this sequence: the histories differ"
                    .into(),
            });
        }
        let tx = self.conn.transaction()?;
        Self::set_acknowledged(&tx, head)?;
        // The server's answer is the confirmation a restored journal waits for.
        tx.execute("UPDATE unit SET must_sync = 0 WHERE id = 1", [])?;
        tx.execute(
            "INSERT INTO answer (id, body, signature, nonce) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET body = ?1, signature = ?2, nonce = ?3",
            params![kept.body, kept.signature, kept.nonce],
        )?;
        Self::set_contact(&tx, at, ranges)?;
        tx.commit()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Records the server's acknowledgement of the chain up to `head` and
    /// drops the validation numbers up to there, but a ticket's that never
    /// printed: it keeps its number until reprinted or voided (the buyer
    /// has no other copy).
    fn set_acknowledged(tx: &rusqlite::Transaction, head: Head) -> Result<()> {
        tx.execute(
            "UPDATE unit SET acknowledged = ?1, acknowledged_hash = ?2 WHERE id = 1",
            params![to_sql(head.seq)?, &head.hash[..]],
        )?;
        tx.execute(
            "UPDATE records SET validation_number = NULL WHERE seq <= ?1
             AND seq NOT IN (SELECT seq FROM tickets WHERE copies = 0 AND voided = 0)",
            params![to_sql(head.seq)?],
        )?;
        Ok(())
    }

    /// Whether the journal must sync before it sells (restored).
    pub fn must_sync(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT must_sync FROM unit WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })?
            != 0)
    }

    /// The unit's ranges per raffle as the journal holds them.
    pub fn allocations(&self) -> Result<Vec<(String, u64, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT raffle, first, count FROM allocations ORDER BY raffle, first")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (raffle, f, c) = row?;
            out.push((raffle, to_seq(f)?, to_seq(c)?));
        }
        Ok(out)
    }

    /// Records the server's answer: when it came, and the unit's ranges
    /// per raffle (replacing those it had), in one transaction.
    pub fn contact(&mut self, at: Timestamp, ranges: &[(RaffleId, Vec<(u64, u64)>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        Self::set_contact(&tx, at, ranges)?;
        tx.commit()?;
        Ok(())
    }

    fn set_contact(
        tx: &rusqlite::Transaction,
        at: Timestamp,
        ranges: &[(RaffleId, Vec<(u64, u64)>)],
    ) -> Result<()> {
        tx.execute(
            "UPDATE unit SET last_contact = ?1 WHERE id = 1",
            params![at.as_micros()],
        )?;
        for (raffle, rs) in ranges {
            tx.execute(
                "DELETE FROM allocations WHERE raffle = ?1",
                params![raffle.as_str()],
            )?;
            for &(first, count) in rs {
                tx.execute(
                    "INSERT INTO allocations (raffle, first, count) VALUES (?1, ?2, ?3)",
                    params![raffle.as_str(), to_sql(first)?, to_sql(count)?],
                )?;
            }
        }
        Ok(())
    }

    /// Sells the next `sale.count` numbers of the unit's allocation in
    /// `sale.raffle` at device time `now` (GLI-31 6.1.4): refused while
    /// the unit must sync first (too many records the server has not
    /// acknowledged, or too long since it last answered), when its clock
    /// runs backwards, or when its numbers are sold. Returns the signed
    /// record and the validation number to print.
    pub fn sell(
        &mut self,
        key: &DeviceKey,
        sale: &NewSale,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<(RsuRecord, String)> {
        let first = self.can_sell(&sale.raffle, sale.count, now, limits)?;
        let vn = ValidationNumber::generate()
            .map_err(|e| Error::Refused(format!("no randomness for a validation number: {e}")))?;
        let draft = RsuRecord {
            raffle: sale.raffle.clone(),
            rsu: self.rsu.clone(),
            seq: U64(0),
            prev: Digest32([0; 32]),
            package: sale.package.clone(),
            quantity: sale.quantity,
            numbers: NumberRange {
                first: U64(first),
                count: U64(sale.count),
            },
            price: sale.price,
            payment: sale.payment,
            validation: Digest32(vn.commitment(sale.raffle.as_str())),
            device_time: now,
            operator: sale.operator.clone(),
            signature: HexBytes(Vec::new()),
        };
        let text = vn.to_text();
        let record =
            self.append_paid(key, draft, &text, sale.reference.as_deref(), sale.tendered)?;
        Ok((record, text))
    }

    /// Whether the unit may sell `count` numbers of `raffle` at `now`
    /// (GLI-31 6.1.4): the first of them, or why not. Nothing changes.
    pub fn can_sell(
        &self,
        raffle: &RaffleId,
        count: u64,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<u64> {
        if self.must_sync()? {
            return Err(Error::MustSync(
                "the journal was restored from a backup: sync before selling".into(),
            ));
        }
        let head = self.head()?;
        let (acked, _) = self.acknowledged()?;
        if head.seq - acked >= limits.max_unsynced {
            return Err(Error::MustSync(format!(
                "{} sales wait for the server: sync before selling more",
                head.seq - acked
            )));
        }
        let last_contact: Option<i64> =
            self.conn
                .query_row("SELECT last_contact FROM unit WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        // A unit clock set back before the last contact (to stretch the
        // limit) is refused as well.
        if last_contact.is_none_or(|t| {
            now.as_micros().saturating_sub(t) > limits.max_offline_micros
                || t.saturating_sub(now.as_micros()) > rsu::MAX_CLOCK_SKEW_MICROS
        }) {
            return Err(Error::MustSync(
                "the server has not answered for too long: sync before selling".into(),
            ));
        }
        if let Some(last) = self.last_record()?
            && now < last.device_time
        {
            return Err(Error::Refused(
                "the unit's clock runs backwards: have it checked".into(),
            ));
        }
        self.next_numbers(raffle, count)?.ok_or_else(|| {
            Error::Refused(format!(
                "the unit has not {count} numbers left in this raffle"
            ))
        })
    }

    /// The first of the next `count` unsold numbers of the unit's ranges in
    /// `raffle` (a unit sells its numbers in ascending order). It reads the
    /// journal's records each time (a few milliseconds for ten thousand):
    /// the journal stays the one account of what was sold.
    fn next_numbers(&self, raffle: &RaffleId, count: u64) -> Result<Option<u64>> {
        let sold_to = self.sold_to(raffle.as_str())?;
        for (first, n) in self.ranges(raffle.as_str())? {
            let start = first.max(sold_to);
            if start
                .checked_add(count)
                .is_some_and(|end| end <= first.saturating_add(n))
            {
                return Ok(Some(start));
            }
        }
        Ok(None)
    }

    /// One past the highest number the journal's records sold in `raffle`
    /// (0 when none): a unit sells in ascending order, so nothing below it
    /// is sold again.
    pub(crate) fn sold_to(&self, raffle: &str) -> Result<u64> {
        let mut sold_to = 0u64;
        self.read_records("SELECT record FROM records ORDER BY seq", [], |r| {
            if r.raffle.as_str() == raffle {
                sold_to = sold_to.max(r.numbers.first.0.saturating_add(r.numbers.count.0));
            }
            true
        })?;
        Ok(sold_to)
    }

    /// The unit's ranges in `raffle` (first, count), ascending.
    pub(crate) fn ranges(&self, raffle: &str) -> Result<Vec<(u64, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT first, count FROM allocations WHERE raffle = ?1 ORDER BY first")?;
        let rows = stmt.query_map(params![raffle], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (first, n) = row?;
            out.push((to_seq(first)?, to_seq(n)?));
        }
        Ok(out)
    }

    /// Runs `sql`, whose first column is a record's text, and hands each
    /// record read to `f` in turn, until `f` says `false`.
    pub(crate) fn read_records(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut f: impl FnMut(RsuRecord) -> bool,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query(params)?;
        while let Some(row) = rows.next()? {
            let r: RsuRecord =
                serde_json::from_str(&row.get::<_, String>(0)?).map_err(|_| Error::Corrupt {
                    seq: 0,
                    why: "a record does not read".into(),
                })?;
            if !f(r) {
                break;
            }
        }
        Ok(())
    }

    /// The last record, if any.
    fn last_record(&self) -> Result<Option<RsuRecord>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM records ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|_| Error::Corrupt {
                seq: 0,
                why: "the last record does not read".into(),
            })
        })
        .transpose()
    }

    /// The server's acknowledged head as the journal recorded it.
    pub fn acknowledged(&self) -> Result<(u64, [u8; 32])> {
        let (seq, hash): (i64, Vec<u8>) = self.conn.query_row(
            "SELECT acknowledged, acknowledged_hash FROM unit WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((to_seq(seq)?, to_hash(seq, hash)?))
    }

    fn hash_at(&self, seq: u64) -> Result<Option<[u8; 32]>> {
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT hash FROM records WHERE seq = ?1",
                params![to_sql(seq)?],
                |r| r.get(0),
            )
            .optional()?;
        hash.map(|h| to_hash(to_sql(seq)?, h)).transpose()
    }
}

pub(crate) fn to_seq(seq: i64) -> Result<u64> {
    u64::try_from(seq).map_err(|_| Error::Corrupt {
        seq: 0,
        why: format!("sequence {seq} is negative"),
    })
}

pub(crate) fn to_sql(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::Refused(format!("sequence {seq} is too large")))
}

pub(crate) fn to_hash(seq: i64, hash: Vec<u8>) -> Result<[u8; 32]> {
    hash.try_into().map_err(|_| Error::Corrupt {
        seq: u64::try_from(seq).unwrap_or(0),
        why: "a stored hash is not 32 bytes".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use raffle_core::entry::{NumberRange, PaymentMethod};
    use raffle_core::{Currency, Money, Timestamp};

    const ORIGIN: &str = "raffles.example/log";

    fn unit() -> RsuId {
        "gate-3".parse().unwrap()
    }

    fn draft(first: u64, at: i64) -> RsuRecord {
        RsuRecord {
            raffle: "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10".parse().unwrap(),
            rsu: unit(),
            seq: U64(0),
            prev: Digest32([0; 32]),
            package: "p1".parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(first),
                count: U64(1),
            },
            price: Money::new(500, Currency::CAD),
            payment: PaymentMethod::Cash,
            validation: Digest32([first as u8; 32]),
            device_time: Timestamp::from_micros(1_800_000_000_000_000 + at),
            operator: "s_5c2e8b1f0a7d3964".parse().unwrap(),
            signature: HexBytes(Vec::new()),
        }
    }

    /// The validation number of the test journal's record `i` (from 0).
    fn vn(i: u64) -> ValidationNumber {
        ValidationNumber::from_u128(u128::from(i) * 7_919 + 1)
    }

    /// A journal of five records, closed, and its path and key.
    fn five() -> (tempfile::TempDir, std::path::PathBuf, DeviceKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let key = DeviceKey::from_seed(&[4; 32]);
        let mut j = Journal::open(&path, ORIGIN, &unit(), key.public()).unwrap();
        for i in 0..5 {
            let mut d = draft(100 + i, i as i64);
            d.validation = Digest32(vn(i).commitment(d.raffle.as_str()));
            j.append(&key, d, &vn(i).to_text()).unwrap();
        }
        (dir, path, key)
    }

    fn raw(path: &Path, sql: &str) {
        Connection::open(path).unwrap().execute_batch(sql).unwrap();
    }

    fn reopened(path: &Path, key: &DeviceKey) -> Result<Journal> {
        Journal::open(path, ORIGIN, &unit(), key.public())
    }

    #[test]
    fn records_are_signed_and_chained_as_the_server_checks_them() {
        let (_dir, path, key) = five();
        let j = reopened(&path, &key).unwrap();
        let records = j.unacknowledged(10).unwrap();
        assert_eq!(records.len(), 5);
        let mut prev = rsu::GENESIS;
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.seq.0, i as u64 + 1);
            assert_eq!(r.prev.0, prev);
            assert!(rsu::verify(
                &key.public(),
                &rsu::sale_message(ORIGIN, r),
                &r.signature.0
            ));
            prev = rsu::record_hash(ORIGIN, r);
        }
        assert_eq!(j.head().unwrap(), Head { seq: 5, hash: prev });
        assert_eq!(j.check().unwrap().seq, 5);
        assert_eq!(j.unacknowledged(2).unwrap().len(), 2);
    }

    #[test]
    fn an_edited_record_is_found_and_named() {
        let (_dir, path, key) = five();
        // A price changed in place.
        raw(
            &path,
            "UPDATE records SET record = replace(record, '\"500\"', '\"50\"') WHERE seq = 3",
        );
        match reopened(&path, &key) {
            Err(Error::Corrupt { seq: 3, why }) => assert!(why.contains("signature"), "{why}"),
            other => panic!("{:?}", other.err()),
        }
        // A signature changed (one bit of record 4's).
        let (_dir, path, key) = five();
        let db = Connection::open(&path).unwrap();
        let text: String = db
            .query_row("SELECT record FROM records WHERE seq = 4", [], |r| r.get(0))
            .unwrap();
        let mut r: RsuRecord = serde_json::from_str(&text).unwrap();
        r.signature.0[0] ^= 1;
        db.execute(
            "UPDATE records SET record = ?1 WHERE seq = 4",
            params![serde_json::to_string(&r).unwrap()],
        )
        .unwrap();
        drop(db);
        match reopened(&path, &key) {
            Err(Error::Corrupt { seq: 4, why }) => assert!(why.contains("signature"), "{why}"),
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_missing_reordered_or_foreign_record_is_found() {
        // A record deleted from the middle.
        let (_dir, path, key) = five();
        raw(&path, "DELETE FROM records WHERE seq = 2");
        assert!(matches!(
            reopened(&path, &key),
            Err(Error::Corrupt { seq: 2, .. })
        ));
        // Two records swapped.
        let (_dir, path, key) = five();
        raw(
            &path,
            "UPDATE records SET seq = 100 WHERE seq = 2; UPDATE records SET seq = 2 WHERE seq = 3; \
             UPDATE records SET seq = 3 WHERE seq = 100;",
        );
        assert!(matches!(
            reopened(&path, &key),
            Err(Error::Corrupt { seq: 2, .. })
        ));
        // A record signed by another key, chained correctly.
        let (_dir, path, key) = five();
        let other = DeviceKey::from_seed(&[5; 32]);
        let j = reopened(&path, &key).unwrap();
        let head = j.head().unwrap();
        drop(j);
        let mut r = draft(200, 10);
        r.seq = U64(6);
        r.prev = Digest32(head.hash);
        let hash = other.sign_record(ORIGIN, &mut r);
        let text = serde_json::to_string(&r).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO records (seq, record, hash) VALUES (6, ?1, ?2)",
                params![text, &hash[..]],
            )
            .unwrap();
        assert!(matches!(
            reopened(&path, &key),
            Err(Error::Corrupt { seq: 6, .. })
        ));
    }

    #[test]
    fn records_acknowledged_cannot_vanish_and_lose_their_validation_numbers() {
        let (_dir, path, key) = five();
        let mut j = reopened(&path, &key).unwrap();
        let third = j.unacknowledged(3).unwrap().pop().unwrap();
        let head = Head {
            seq: 3,
            hash: rsu::record_hash(ORIGIN, &third),
        };
        // An acknowledgement of another history is refused.
        assert!(matches!(
            j.acknowledge(Head {
                seq: 3,
                hash: [1; 32]
            }),
            Err(Error::Refused(_))
        ));
        // Tickets 1 and 3 printed; 2 did not, and keeps its number until it
        // is reprinted or voided (the buyer has no copy).
        j.printed(1).unwrap();
        j.printed(3).unwrap();
        j.acknowledge(head).unwrap();
        assert_eq!(j.validation_number(3).unwrap(), None);
        assert_eq!(j.validation_number(1).unwrap(), None);
        assert_eq!(
            j.validation_number(2).unwrap().as_deref(),
            Some(vn(1).to_text().as_str())
        );
        assert_eq!(
            j.validation_number(4).unwrap().as_deref(),
            Some(vn(3).to_text().as_str())
        );
        j.printed(2).unwrap();
        assert_eq!(j.validation_number(2).unwrap(), None);
        assert_eq!(
            j.validation_number(4).unwrap().as_deref(),
            Some(vn(3).to_text().as_str())
        );
        assert_eq!(j.unacknowledged(10).unwrap().len(), 2);
        drop(j);
        // The acknowledged records deleted: the server holds them, the file
        // no longer does.
        raw(&path, "DELETE FROM records WHERE seq >= 3");
        match reopened(&path, &key) {
            Err(Error::Corrupt { seq: 3, why }) => assert!(why.contains("acknowledged"), "{why}"),
            other => panic!("{:?}", other.err()),
        }
    }

    fn sale(count: u64) -> NewSale {
        NewSale {
            raffle: "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10".parse().unwrap(),
            package: "p1".parse().unwrap(),
            quantity: u32::try_from(count).unwrap(),
            count,
            price: Money::new(500 * count, Currency::CAD),
            payment: PaymentMethod::Cash,
            operator: "s_5c2e8b1f0a7d3964".parse().unwrap(),
            reference: None,
            tendered: None,
        }
    }

    #[test]
    fn a_unit_sells_its_ranges_in_order_and_stops_where_it_must_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let key = DeviceKey::from_seed(&[7; 32]);
        let mut j = Journal::open(&path, ORIGIN, &unit(), key.public()).unwrap();
        let limits = Limits {
            max_unsynced: 4,
            max_offline_micros: 3_600_000_000,
        };
        let t = |s: i64| Timestamp::from_micros(1_800_000_000_000_000 + s * 1_000_000);
        // Never answered: no selling.
        assert!(matches!(
            j.sell(&key, &sale(1), t(0), &limits),
            Err(Error::MustSync(_))
        ));
        let raffle: RaffleId = sale(1).raffle;
        j.contact(t(0), &[(raffle.clone(), vec![(10, 2), (50, 3)])])
            .unwrap();
        let (a, vn) = j.sell(&key, &sale(1), t(1), &limits).unwrap();
        assert_eq!(a.numbers.first.0, 10);
        assert_eq!(
            a.validation.0,
            ValidationNumber::parse(&vn)
                .unwrap()
                .commitment(raffle.as_str())
        );
        // Two numbers do not fit in what is left of the first range.
        let (b, _) = j.sell(&key, &sale(2), t(2), &limits).unwrap();
        assert_eq!((b.numbers.first.0, b.numbers.count.0), (50, 2));
        // The clock must not run backwards.
        assert!(matches!(
            j.sell(&key, &sale(1), t(1), &limits),
            Err(Error::Refused(_))
        ));
        let (c, _) = j.sell(&key, &sale(1), t(3), &limits).unwrap();
        assert_eq!(c.numbers.first.0, 52);
        // Sold out (numbers below the highest sold are never sold again).
        assert!(matches!(
            j.sell(&key, &sale(1), t(4), &limits),
            Err(Error::Refused(_))
        ));
        j.contact(t(5), &[(raffle.clone(), vec![(10, 2), (50, 3), (90, 10)])])
            .unwrap();
        j.sell(&key, &sale(1), t(6), &limits).unwrap();
        // Four unacknowledged: the buffer is full.
        assert!(matches!(
            j.sell(&key, &sale(1), t(7), &limits),
            Err(Error::MustSync(_))
        ));
        let head = j.head().unwrap();
        j.acknowledge(head).unwrap();
        j.sell(&key, &sale(1), t(8), &limits).unwrap();
        // An hour and more without an answer: sync first.
        assert!(matches!(
            j.sell(&key, &sale(1), t(5 + 3601), &limits),
            Err(Error::MustSync(_))
        ));
        // It all survives a restart, checked.
        drop(j);
        let j = Journal::open(&path, ORIGIN, &unit(), key.public()).unwrap();
        assert_eq!(j.check().unwrap().seq, 5);
    }

    #[test]
    fn the_file_is_one_units_and_one_keys() {
        let (_dir, path, key) = five();
        let other: RsuId = "gate-4".parse().unwrap();
        assert!(matches!(
            Journal::open(&path, ORIGIN, &other, key.public()),
            Err(Error::NotThisUnits(_))
        ));
        assert!(matches!(
            Journal::open(&path, "other.example/log", &unit(), key.public()),
            Err(Error::NotThisUnits(_))
        ));
        let stranger = DeviceKey::from_seed(&[6; 32]);
        assert!(matches!(
            Journal::open(&path, ORIGIN, &unit(), stranger.public()),
            Err(Error::NotThisUnits(_))
        ));
        let mut j = reopened(&path, &key).unwrap();
        assert!(matches!(
            j.append(&stranger, draft(300, 20), "VN"),
            Err(Error::NotThisUnits(_))
        ));
        let mut foreign = draft(300, 20);
        foreign.rsu = other;
        assert!(matches!(
            j.append(&key, foreign, "VN"),
            Err(Error::Refused(_))
        ));
        assert_eq!(j.check().unwrap().seq, 5);
    }
}
