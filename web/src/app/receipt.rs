//! Receipts (GLI-31 2.3.1): every field a bearer ticket shows, and the
//! `.tlog-proof` that proves the sale is in the published log. The proof
//! never contains the validation number, which is shown beside it.

use crate::AppState;
use crate::error::AppError;
use raffle_core::entry::{Body, Entry};
use raffle_core::ids::{DrawId, RaffleId, SaleId};
use raffle_core::validation::ValidationNumber;
use serde_json::{Value, json};
use sqlx::Row;
use transparency::proof::inclusion_proof;
use transparency::proof_file::ProofFile;
use transparency::store::{DirStorage, TileHashSource};

/// The receipt of a sale entry.
pub fn receipt(
    state: &AppState,
    entry: &Entry,
    vn: &ValidationNumber,
    proof: &ProofFile,
) -> Result<Value, AppError> {
    let Body::Sale(sale) = &entry.body else {
        return Err(AppError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "not a sale entry",
        ));
    };
    let ledger = state.sequencer.ledger();
    let raffle = ledger
        .raffle(&sale.raffle)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let c = &raffle.config;
    let last = sale.numbers.first.0 + sale.numbers.count.0 - 1;
    let mut receipt = json!({
        "sale_id": sale.sale,
        "raffle_id": sale.raffle,
        "raffle_name": c.name,
        "organisation": c.organisation,
        "licence": c.licence,
        "jurisdiction": c.jurisdiction,
        "time_zone": c.time_zone,
        "draw_numbers": { "first": sale.numbers.first.0.to_string(), "last": last.to_string(), "count": sale.numbers.count.0.to_string() },
        "package_id": sale.package,
        "quantity": sale.quantity,
        "price": sale.price,
        "sales_unit": match &sale.rsu { Some(rsu) => rsu.to_string(), None => "online".to_string() },
        "issued_at": entry.time,
        "validation_number": vn.to_text(),
        "draws": c.draws.iter().map(|d| json!({ "id": d.id, "name": d.name, "draw_at": d.draw_at })).collect::<Vec<_>>(),
        "log_index": proof.index.to_string(),
        "proof": String::from_utf8_lossy(&proof.to_bytes()),
    });
    if state.payments.test_enabled() {
        // Every receipt of a server that takes test payments says so.
        receipt["demo"] = json!("demo: no money moves (test payments)");
    }
    Ok(receipt)
}

/// The proof file of the sale with id `sale` under the checkpoint of the
/// batch that sequenced it (the first one recorded after it; the latest if
/// that was lost with a restored database): the receipt of a retried
/// purchase is the one first answered.
pub async fn proof_for_sale(state: &AppState, sale: &str) -> Result<(Entry, ProofFile), AppError> {
    let row = sqlx::query(
        "SELECT l.idx, l.body, (SELECT note FROM checkpoints c WHERE c.size > l.idx ORDER BY c.size LIMIT 1) \
         FROM sales s JOIN log_entries l ON l.idx = s.idx WHERE s.id = $1::uuid",
    )
        .bind(sale)
        .fetch_optional(&state.store.pool)
        .await
        .map_err(raffle_core::Error::from)?
        .ok_or_else(|| AppError::not_found("no such sale"))?;
    let index = row.get::<i64, _>(0) as u64;
    let bytes: Vec<u8> = row.get(1);
    let entry = Entry::parse(&bytes)?;
    let checkpoint = state.sequencer.latest_checkpoint().ok_or_else(|| {
        AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "nothing is published yet",
        )
    })?;
    let size = transparency::Checkpoint::parse_text(checkpoint.text())
        .map_err(|e| AppError::bad_request(e.to_string()))?
        .size;
    let dir = state.config.publications_dir();
    let proof = tokio::task::spawn_blocking(move || -> Result<Vec<transparency::Hash>, String> {
        let storage = DirStorage::new(&dir, false).map_err(|e| e.to_string())?;
        inclusion_proof(&TileHashSource::new(&storage, size), index, size)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AppError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| AppError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok((
        entry,
        ProofFile {
            extra: Some(bytes),
            index,
            proof,
            checkpoint,
        },
    ))
}

/// The raffle and sale whose commitment matches a validation number (each
/// raffle's commitment differs, so every raffle is tried).
pub async fn find_by_validation(
    state: &AppState,
    vn: &ValidationNumber,
) -> Result<Option<(RaffleId, SaleId)>, AppError> {
    let raffles: Vec<RaffleId> = state
        .sequencer
        .ledger()
        .raffles()
        .map(|r| r.id.clone())
        .collect();
    for raffle in raffles {
        if let Some(sale) = state
            .store
            .sale_by_validation(&raffle, &vn.commitment(&raffle))
            .await?
        {
            return Ok(Some((raffle, sale)));
        }
    }
    Ok(None)
}

/// What a ticket check finds (GLI-31 2.7.1): the ticket's status —
/// `valid`, `voided`, `winner` or `claimed` — its sale and numbers, the
/// draws it won, and its inclusion proof under the latest checkpoint.
pub struct TicketStatus {
    pub status: &'static str,
    pub raffle: RaffleId,
    pub raffle_name: String,
    pub sale: SaleId,
    pub first: u64,
    pub count: u64,
    /// (draw id, winning number, claimed).
    pub wins: Vec<(DrawId, u64, bool)>,
    pub proof: ProofFile,
}

/// Looks a ticket up by its validation number; `None` when no ticket has it.
pub async fn ticket_status(
    state: &AppState,
    vn: &ValidationNumber,
) -> Result<Option<TicketStatus>, AppError> {
    let Some((raffle, sale)) = find_by_validation(state, vn).await? else {
        return Ok(None);
    };
    let (entry, proof) = proof_for_sale(state, &sale).await?;
    let Body::Sale(s) = &entry.body else {
        return Err(AppError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "not a sale entry",
        ));
    };
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(&raffle)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let record = r
        .sale(&sale)
        .ok_or_else(|| AppError::not_found("no such sale"))?;
    let mut wins: Vec<(DrawId, u64, bool)> = r
        .draws
        .iter()
        .filter_map(|(id, d)| {
            d.winner
                .as_ref()
                .filter(|w| w.sale == sale)
                .map(|w| (id.clone(), w.number, d.claimed))
        })
        .collect();
    wins.sort();
    let status = if record.voided {
        "voided"
    } else if wins.iter().any(|w| w.2) {
        "claimed"
    } else if !wins.is_empty() {
        "winner"
    } else {
        "valid"
    };
    Ok(Some(TicketStatus {
        status,
        raffle_name: r.config.name.clone(),
        raffle,
        sale,
        first: s.numbers.first.0,
        count: s.numbers.count.0,
        wins,
        proof,
    }))
}
