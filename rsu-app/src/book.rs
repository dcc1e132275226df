//! What the unit keeps besides its chain, in the journal's file (one file,
//! one backup): each ticket's printing, the server's last signed answer,
//! seals, reprints and void requests until settled, the server's refusals,
//! the cash drawer and sign-in failures.

use crate::journal::{Error, Journal, Result, to_seq, to_sql};
use rusqlite::{OptionalExtension, params};

/// The largest cash count recorded at once (minor units): 100,000.00.
pub const MAX_CASH: u64 = 10_000_000;

/// A sale whose ticket has not printed whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unprinted {
    pub seq: u64,
    pub problem: Option<String>,
}

/// A server's answer as received: its body, the log key's signature over
/// it and the nonce of the request it answered.
#[derive(Clone, Debug)]
pub struct KeptAnswer {
    pub body: Vec<u8>,
    pub signature: Vec<u8>,
    pub nonce: String,
}

/// A reprint or void request waiting for the server.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: i64,
    pub kind: String,
    pub seq: u64,
    pub wire: serde_json::Value,
}

impl Journal {
    /// Copies of sale `seq`'s ticket printed whole so far.
    pub fn copies(&self, seq: u64) -> Result<u32> {
        Ok(self
            .conn
            .query_row(
                "SELECT copies FROM tickets WHERE seq = ?1",
                params![to_sql(seq)?],
                |r| r.get::<_, u32>(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// A copy of `seq`'s ticket printed whole.
    pub fn printed(&mut self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE tickets SET copies = copies + 1, problem = NULL WHERE seq = ?1",
            params![to_sql(seq)?],
        )?;
        self.forget_if_acknowledged(seq)
    }

    /// Drops sale `seq`'s validation number once the server holds the
    /// sale and its ticket printed or its void was asked.
    fn forget_if_acknowledged(&mut self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE records SET validation_number = NULL
             WHERE seq = ?1 AND seq <= (SELECT acknowledged FROM unit WHERE id = 1)",
            params![to_sql(seq)?],
        )?;
        Ok(())
    }

    /// A print of `seq`'s ticket stopped: why.
    pub fn not_printed(&mut self, seq: u64, problem: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE tickets SET problem = ?2 WHERE seq = ?1",
            params![to_sql(seq)?, problem],
        )?;
        Ok(())
    }

    /// Sales with no ticket printed and no void asked: each must be
    /// reprinted or voided (GLI-31 3.3.2), never forgotten.
    pub fn unprinted(&self) -> Result<Vec<Unprinted>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, problem FROM tickets WHERE copies = 0 AND voided = 0 ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, problem) = row?;
            out.push(Unprinted {
                seq: to_seq(seq)?,
                problem,
            });
        }
        Ok(out)
    }

    /// Keeps a verified answer of the server (replacing the last).
    pub fn keep_answer(&mut self, body: &[u8], signature: &[u8], nonce: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO answer (id, body, signature, nonce) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET body = ?1, signature = ?2, nonce = ?3",
            params![body, signature, nonce],
        )?;
        Ok(())
    }

    /// The last answer kept.
    pub fn kept_answer(&self) -> Result<Option<KeptAnswer>> {
        Ok(self
            .conn
            .query_row(
                "SELECT body, signature, nonce FROM answer WHERE id = 1",
                [],
                |r| {
                    Ok(KeptAnswer {
                        body: r.get(0)?,
                        signature: r.get(1)?,
                        nonce: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Keeps a signed seal to send (once per draw).
    pub fn keep_seal(&mut self, raffle: &str, draw: &str, seal: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO seals (raffle, draw, seal) VALUES (?1, ?2, ?3)",
            params![raffle, draw, seal],
        )?;
        Ok(())
    }

    /// Whether the unit signed a seal for the draw.
    pub fn has_seal(&self, raffle: &str, draw: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM seals WHERE raffle = ?1 AND draw = ?2",
                params![raffle, draw],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Seals the log does not hold yet, at most `limit`.
    pub fn pending_seals(&self, limit: usize) -> Result<Vec<serde_json::Value>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seal FROM seals WHERE logged = 0 ORDER BY raffle, draw LIMIT ?1")?;
        let rows = stmt.query_map(params![limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(|_| Error::Corrupt {
                seq: 0,
                why: "a seal does not read".into(),
            })?);
        }
        Ok(out)
    }

    pub fn seal_logged(&mut self, raffle: &str, draw: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE seals SET logged = 1 WHERE raffle = ?1 AND draw = ?2",
            params![raffle, draw],
        )?;
        Ok(())
    }

    /// The server refused a seal for good: why (shown; not sent again).
    pub fn seal_refused(&mut self, raffle: &str, draw: &str, why: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE seals SET logged = 2, result = ?3 WHERE raffle = ?1 AND draw = ?2 AND logged = 0",
            params![raffle, draw, why],
        )?;
        Ok(())
    }

    /// Seals the server refused for good: raffle, draw, why.
    pub fn refused_seals(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT raffle, draw, COALESCE(result, '') FROM seals WHERE logged = 2 ORDER BY raffle, draw",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// Seals, reprints and voids not yet settled by the server.
    pub fn pending_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM seals WHERE logged = 0)
                  + (SELECT COUNT(*) FROM requests WHERE settled = 0)",
            [],
            |r| r.get(0),
        )?;
        to_seq(n)
    }

    /// Keeps a reprint or void request to send; a void also stops any
    /// further copy of the ticket.
    pub fn keep_request(&mut self, kind: &str, seq: u64, wire: &serde_json::Value) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO requests (kind, seq, wire) VALUES (?1, ?2, ?3)",
            params![kind, to_sql(seq)?, wire.to_string()],
        )?;
        if kind == "void" {
            tx.execute(
                "UPDATE tickets SET voided = 1 WHERE seq = ?1",
                params![to_sql(seq)?],
            )?;
        }
        tx.commit()?;
        if kind == "void" {
            self.forget_if_acknowledged(seq)?;
        }
        Ok(())
    }

    /// Reprints of sale `seq` signed so far.
    pub fn pending_reprints(&self, seq: u64) -> Result<u32> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM requests WHERE kind = 'reprint' AND seq = ?1",
            params![to_sql(seq)?],
            |r| r.get::<_, u32>(0),
        )?)
    }

    /// Requests of `kind` not settled, at most `limit`.
    pub fn pending_requests(&self, kind: &str, limit: usize) -> Result<Vec<Request>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, seq, wire FROM requests WHERE kind = ?1 AND settled = 0 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![kind, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, seq, wire) = row?;
            let seq = to_seq(seq)?;
            out.push(Request {
                id,
                kind: kind.to_string(),
                seq,
                wire: serde_json::from_str(&wire).map_err(|_| Error::Corrupt {
                    seq,
                    why: "a request does not read".into(),
                })?,
            });
        }
        Ok(out)
    }

    /// The server settled request `id`: what it said.
    pub fn settle_request(&mut self, id: i64, result: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE requests SET settled = 1, result = ?2 WHERE id = ?1",
            params![id, result],
        )?;
        Ok(())
    }

    /// Whether a void was asked for sale `seq`.
    pub fn void_asked(&self, seq: u64) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT voided FROM tickets WHERE seq = ?1",
                params![to_sql(seq)?],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_some_and(|v| v == 1))
    }

    pub fn refused(&mut self, seq: u64, reason: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO refusals (seq, reason) VALUES (?1, ?2)",
            params![to_sql(seq)?, reason],
        )?;
        Ok(())
    }

    /// The server's refusals: sequence and reason.
    pub fn refusals(&self) -> Result<Vec<(u64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, reason FROM refusals ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, reason) = row?;
            out.push((to_seq(seq)?, reason));
        }
        Ok(out)
    }

    /// Records a float handed to the unit or a drop taken from it.
    pub fn cash(&mut self, kind: &str, amount: u64, operator: &str, at: i64) -> Result<()> {
        if amount == 0 || amount > MAX_CASH {
            return Err(Error::Refused(format!(
                "an amount is more than zero and at most {}.00",
                MAX_CASH / 100
            )));
        }
        self.conn.execute(
            "INSERT INTO cash (kind, amount, operator, at) VALUES (?1, ?2, ?3, ?4)",
            params![kind, to_sql(amount)?, operator, at],
        )?;
        Ok(())
    }

    /// The drawer: floats, cash sales, drops (minor units); what it should
    /// hold is floats + cash sales - drops. Cash sales are read from the
    /// signed records.
    pub fn drawer(&self) -> Result<(u64, u64, u64)> {
        let overflow = || Error::Refused("the drawer's total overflows".into());
        let sum = |kind: &str| -> Result<u64> {
            let mut stmt = self
                .conn
                .prepare("SELECT amount FROM cash WHERE kind = ?1")?;
            let rows = stmt.query_map(params![kind], |r| r.get::<_, i64>(0))?;
            let mut total = 0u64;
            for row in rows {
                total = total.checked_add(to_seq(row?)?).ok_or_else(overflow)?;
            }
            Ok(total)
        };
        let mut sales = 0u64;
        let mut overflowed = false;
        self.read_records(
            "SELECT r.record FROM records r LEFT JOIN tickets t ON t.seq = r.seq
             WHERE COALESCE(t.voided, 0) = 0",
            [],
            |r| {
                if r.payment == raffle_core::entry::PaymentMethod::Cash {
                    match sales.checked_add(r.price.minor) {
                        Some(s) => sales = s,
                        None => overflowed = true,
                    }
                }
                !overflowed
            },
        )?;
        if overflowed {
            return Err(overflow());
        }
        Ok((sum("float")?, sales, sum("drop")?))
    }

    /// Sign-in failures in a row and the lock's end (microseconds).
    pub fn signin_state(&self) -> Result<(u32, Option<i64>)> {
        Ok(self
            .conn
            .query_row(
                "SELECT failures, locked_until FROM signin WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, None)))
    }

    pub fn set_signin_state(&mut self, failures: u32, locked_until: Option<i64>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO signin (id, failures, locked_until) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET failures = ?1, locked_until = ?2",
            params![failures, locked_until],
        )?;
        Ok(())
    }

    /// When the server last answered (microseconds), if ever.
    pub fn last_contact(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT last_contact FROM unit WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    /// The unit's ranges in `raffle`, and the first number not yet sold.
    pub fn numbers_left(&self, raffle: &str) -> Result<u64> {
        let sold_to = self.sold_to(raffle)?;
        Ok(self
            .ranges(raffle)?
            .into_iter()
            .map(|(f, c)| f.saturating_add(c).saturating_sub(f.max(sold_to)))
            .fold(0, u64::saturating_add))
    }

    /// The last record before `cutoff` (device time), for a seal.
    pub fn last_before(
        &self,
        cutoff: raffle_core::Timestamp,
    ) -> Result<Option<raffle_core::entry::RsuRecord>> {
        let mut last = None;
        // Device times never go back along the chain: the first found from
        // the end is the last before the cutoff.
        self.read_records("SELECT record FROM records ORDER BY seq DESC", [], |r| {
            if r.device_time < cutoff {
                last = Some(r);
                false
            } else {
                true
            }
        })?;
        Ok(last)
    }
}
