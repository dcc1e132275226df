//! `raffle-audit ticket`: a buyer verifies their receipt.
//!
//! Offline, with the log's key alone: the receipt's checkpoint is signed by
//! the log; the sale entry carried in its `extra` line is included under
//! it; and, given the validation number printed beside the receipt, the
//! entry commits to it (SHA-256("raffle-vn/v1" || 0 || raffle || 0 || number)).
//! With a source: the published log is consistent with the receipt (it
//! still contains the buyer's sale, in the same history), and the log says
//! whether the ticket was voided, won, or its prize was paid.

use crate::audit::{check_consistency, published_checkpoint};
use crate::source::Source;
use crate::walk::walk;
use crate::{Error, Result};
use raffle_core::entry::{Body, Entry, Sale};
use raffle_core::validation::ValidationNumber;
use std::collections::HashMap;
use transparency::NoteVerifier;
use transparency::proof_file::ProofFile;

/// What the ticket check found: lines to print, and whether all held.
pub struct TicketReport {
    pub lines: Vec<String>,
    pub ok: bool,
}

/// Verifies the receipt at `path`.
pub fn check_ticket(
    path: &str,
    vkey: &NoteVerifier,
    validation: Option<&str>,
    source: Option<&Source>,
) -> Result<TicketReport> {
    let data = std::fs::read(path).map_err(|e| Error::Input(format!("receipt {path}: {e}")))?;
    let proof =
        ProofFile::parse(&data).map_err(|e| Error::Input(format!("receipt {path}: {e}")))?;
    let (bytes, signed) = proof.verify_extra_entry(vkey, &[])?;
    let entry = Entry::parse(&bytes)
        .map_err(|e| Error::Input(format!("receipt {path}: the entry it carries: {e}")))?;
    let Body::Sale(sale) = &entry.body else {
        return Err(Error::Input(format!(
            "receipt {path}: the entry it carries is a {}, not a sale",
            entry.kind()
        )));
    };
    let cp = &signed.checkpoint;
    let mut lines = vec![
        format!(
            "receipt: sale {} of raffle {}, draw numbers {}..{} ({} numbers), {} {}, stamped {}",
            sale.sale,
            sale.raffle,
            sale.numbers.first.0,
            sale.numbers.first.0 + sale.numbers.count.0 - 1,
            sale.numbers.count.0,
            sale.price,
            match &sale.rsu {
                Some(rsu) => format!("sold by RSU {rsu}"),
                None => "sold online".to_string(),
            },
            sale.stamped
        ),
        format!(
            "included: entry {} of the log {}, under its signed checkpoint of size {}",
            proof.index, cp.origin, cp.size
        ),
    ];
    let mut ok = true;
    match validation {
        Some(text) => {
            let vn = ValidationNumber::parse(text.trim())
                .map_err(|e| Error::Input(format!("validation number: {e}")))?;
            if vn.commitment(&sale.raffle) == sale.validation.0 {
                lines.push("validation number: matches the commitment in the logged sale".into());
            } else {
                ok = false;
                lines.push(
                    "validation number: DOES NOT match the commitment in the logged sale".into(),
                );
            }
        }
        None => lines.push(
            "validation number: not given on standard input, so not checked against the sale"
                .into(),
        ),
    }
    if let Some(source) = source {
        let (published, _, _) = published_checkpoint(source, vkey, None)?;
        let now = &published.checkpoint;
        if now.size < cp.size {
            ok = false;
            lines.push(format!(
                "published log: not yet published (the source's checkpoint has {} entries, the receipt's {}): check again later",
                now.size, cp.size
            ));
        } else {
            check_consistency(source, cp.size, cp.root, now.size, now.root)?;
            lines.push(format!(
                "published log: consistent with the receipt (size {} extends size {})",
                now.size, cp.size
            ));
            let status = ticket_status(source, now.size, now.root, proof.index, sale)?;
            lines.push(format!("status: {status}"));
        }
    }
    lines.push(if ok {
        "TICKET VERIFIED".into()
    } else {
        "TICKET NOT VERIFIED".into()
    });
    Ok(TicketReport { lines, ok })
}

/// Reads the log after the sale for what became of it.
fn ticket_status(
    source: &Source,
    size: u64,
    root: transparency::Hash,
    sale_index: u64,
    sale: &Sale,
) -> Result<String> {
    let mut voided = None;
    // Per draw: the current winning sale and number; and paid claims.
    let mut winners: HashMap<String, (String, u64, u64)> = HashMap::new();
    let mut paid: Vec<String> = Vec::new();
    let raffle = sale.raffle.as_bytes();
    walk(source, size, root, |bundle| {
        for (i, bytes) in bundle.entries.iter().enumerate() {
            let index = bundle.first + i as u64;
            if index <= sale_index || !bytes.windows(raffle.len()).any(|w| w == raffle) {
                continue;
            }
            let Ok(entry) = Entry::parse(bytes) else {
                continue;
            };
            match entry.body {
                Body::SaleVoided(v) if v.sale == sale.sale => {
                    voided = Some((index, v.refund));
                }
                Body::DrawPerformed(p) if p.raffle == sale.raffle => {
                    winners.insert(p.draw.to_string(), (p.sale.to_string(), p.winner.0, index));
                }
                Body::ClaimPaid(c) if c.sale == sale.sale => paid.push(c.draw.to_string()),
                _ => {}
            }
        }
        Ok(())
    })?;
    if let Some((index, refund)) = voided {
        return Ok(format!(
            "VOIDED at entry {index}{}: its numbers cannot win",
            if refund { ", refunded" } else { "" }
        ));
    }
    let mut won: Vec<String> = winners
        .iter()
        .filter(|(_, (s, _, _))| *s == sale.sale)
        .map(|(draw, (_, number, index))| {
            format!(
                "WINNER of draw {draw:?} with number {number} (entry {index}){}",
                if paid.contains(draw) {
                    ", prize paid"
                } else {
                    ", prize not yet claimed"
                }
            )
        })
        .collect();
    won.sort();
    if won.is_empty() {
        let drawn = winners.len();
        Ok(if drawn == 0 {
            "valid, no draw performed yet".into()
        } else {
            format!("valid, not a winner of the {drawn} draw(s) performed")
        })
    } else {
        Ok(won.join("; "))
    }
}
