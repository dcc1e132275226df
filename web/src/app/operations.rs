//! What staff can do, one function per operation, shared by the admin API
//! (JSON, [`crate::api::admin`]) and the console (forms, [`crate::site`]): each
//! checks the raffle rules through the sequencer, asks for a second person
//! where GLI-31 5.2.4 requires one, and records the significant event.
//!
//! Assumes the caller has checked the session and the role (the API's and
//! the console's route tables do, before a request body is read).

use crate::AppState;
use crate::app::auth::Staff;
use crate::error::AppError;
use axum::http::StatusCode;
use raffle_core::entry::{Body, RaffleConfig, RedrawReason, VoidReason};
use raffle_core::ids::{ApprovalId, DrawId, RaffleId, SaleId};
use raffle_core::store::sequencer::{Change, Sequenced};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Money, Refusal};
use serde_json::{Value, json};

/// Records who froze or performed a draw (GLI-31 5.6.1).
async fn draw_event(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    raffle: &RaffleId,
    draw: &DrawId,
    s: &Sequenced,
) -> Result<(), AppError> {
    state
        .store
        .record_event(
            "draws",
            kind,
            &json!({ "raffle": raffle, "draw": draw, "log_index": s.index }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(())
}

/// Creates a draft raffle; returns its id and the `raffle.created` entry.
pub async fn create_raffle(
    state: &AppState,
    staff: &Staff,
    config: RaffleConfig,
) -> Result<(RaffleId, Sequenced), AppError> {
    let raffle = RaffleId::new_random();
    let s = state
        .sequencer
        .submit(Change::CreateRaffle {
            raffle: raffle.clone(),
            config,
            by: staff.user.staff_id.clone(),
        })
        .await?;
    Ok((raffle, s))
}

/// Changes a draft's configuration (old and new values in the log); a
/// refused change to a started raffle is logged as an event (GLI-31 2.2.3).
pub async fn update_raffle(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    config: RaffleConfig,
) -> Result<Sequenced, AppError> {
    match state
        .sequencer
        .submit(Change::UpdateRaffle {
            raffle: id.clone(),
            config,
            by: staff.user.staff_id.clone(),
        })
        .await
    {
        Ok(s) => Ok(s),
        Err(e) => {
            if let raffle_core::Error::Refused(reason) = &e {
                state
                    .store
                    .record_event(
                        "raffles",
                        "configuration_change_refused",
                        &json!({ "raffle": id, "reason": reason.to_string(), "code": reason.code() }),
                        Some(&staff.user.staff_id),
                    )
                    .await?;
            }
            Err(e.into())
        }
    }
}

pub async fn open_raffle(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
) -> Result<Sequenced, AppError> {
    Ok(state
        .sequencer
        .submit(Change::OpenRaffle {
            raffle: id.clone(),
            by: staff.user.staff_id.clone(),
            // Card sales go to this deployment's account, and only there.
            payment_account: state.payments.payment_account(),
        })
        .await?)
}

/// Closes sales now (GLI-31 2.6.2).
pub async fn close_raffle(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
) -> Result<Sequenced, AppError> {
    Ok(state
        .sequencer
        .submit(Change::CloseRaffle {
            raffle: id.clone(),
            by: staff.user.staff_id.clone(),
        })
        .await?)
}

/// One sales channel's figures for a draw: online, or an RSU.
#[derive(Clone, Debug)]
pub struct ChannelFigures {
    /// `online`, or `rsu:<id>`.
    pub channel: String,
    pub sales: u64,
    pub gross: Money,
    pub voids: u64,
}

/// What a reconciliation acknowledgement acknowledges for one draw
/// (GLI-31 2.6.1, 2.6.3), to be shown before anyone acknowledges it.
#[derive(Clone, Debug)]
pub struct Reconciliation {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub cutoff: raffle_core::Timestamp,
    pub figures: raffle_core::ledger::ReconciliationFigures,
    pub net: Money,
    pub channels: Vec<ChannelFigures>,
    pub reconciled: bool,
}

impl Reconciliation {
    pub fn to_json(&self) -> Value {
        let f = &self.figures;
        let channels: serde_json::Map<String, Value> = self
            .channels
            .iter()
            .map(|c| {
                (
                    c.channel.clone(),
                    json!({ "sales": c.sales.to_string(), "gross": c.gross, "voids": c.voids.to_string() }),
                )
            })
            .collect();
        json!({
            "raffle": self.raffle,
            "draw": self.draw,
            "cutoff": self.cutoff,
            "sales": f.sales.to_string(),
            "gross": f.gross,
            "voids": f.voids.to_string(),
            "voided": f.voided,
            "refunded": f.refunded,
            "net": self.net,
            "channels": channels,
            "reconciled": self.reconciled,
        })
    }
}

pub fn reconciliation(
    state: &AppState,
    id: &RaffleId,
    draw: &DrawId,
) -> Result<Reconciliation, AppError> {
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(id)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let f = r.reconciliation_figures(draw)?;
    let cutoff = r.draw_config(draw)?.cutoff;
    let mut by_channel: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
    for s in r.sales().filter(|s| s.counts_for(cutoff, None)) {
        let c = by_channel
            .entry(
                s.rsu
                    .clone()
                    .map_or("online".into(), |rsu| format!("rsu:{rsu}")),
            )
            .or_default();
        c.0 += 1;
        c.1 += s.price.minor;
        c.2 += u64::from(s.voided);
    }
    Ok(Reconciliation {
        raffle: id.clone(),
        draw: draw.clone(),
        cutoff,
        figures: f,
        net: f.gross.checked_sub(&f.voided)?,
        channels: by_channel
            .into_iter()
            .map(|(channel, (sales, gross, voids))| ChannelFigures {
                channel,
                sales,
                gross: Money::new(gross, f.gross.currency),
                voids,
            })
            .collect(),
        reconciled: r.draws.get(draw).is_some_and(|d| d.reconciled),
    })
}

/// Asks for the reconciliation acknowledgement of a draw; a second person
/// approves it. Returns the approval id.
///
/// Where the deployment takes cards, Stripe's books must have been fetched
/// since the draw's cutoff, and a difference between them and our card
/// sales that bears on the draw needs `reason`, written by the requester
/// and shown to the approver (GLI-31 2.6.3).
pub async fn request_reconciliation(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    draw: &DrawId,
    reason: Option<&str>,
) -> Result<ApprovalId, AppError> {
    let cutoff = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        let cutoff = r.draw_config(draw)?.cutoff;
        if r.draws.get(draw).is_some_and(|d| d.reconciled) {
            return Err(AppError::refused(Refusal::DrawAlreadyReconciled {
                draw: draw.to_string(),
            }));
        }
        cutoff
    };
    // Control and direction-changing characters could make the reason read
    // otherwise to the approver than it was written: they go.
    let reason: Option<String> = reason
        .map(|r| {
            r.chars()
                .filter(|c| {
                    *c == '\n'
                        || !(c.is_control()
                            || ('\u{202a}'..='\u{202e}').contains(c)
                            || ('\u{2066}'..='\u{2069}').contains(c))
                })
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|r| !r.is_empty());
    let reason = reason.as_deref();
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(AppError::bad_request(format!(
            "the reason is longer than {MAX_REASON_CHARS} characters"
        )));
    }
    reversals_settled(state, id, draw).await?;
    let differences = card_books_settled(state, id, draw, cutoff, reason.map(|_| None)).await?;
    let mut payload = json!({ "raffle": id, "draw": draw });
    if let Some(r) = reason {
        payload["reason"] = json!(r);
        payload["card_differences"] = json!(differences);
    }
    request_approval(state, staff, "reconciliation", payload).await
}

/// At approval, what [`request_reconciliation`] checked still holds: no
/// reversal waits, and the card differences are those the requester
/// explained, no more.
async fn reconciliation_still_settled(
    state: &AppState,
    raffle: &RaffleId,
    draw: &DrawId,
    payload: &Value,
) -> Result<(), AppError> {
    reversals_settled(state, raffle, draw).await?;
    let cutoff = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        r.draw_config(draw)?.cutoff
    };
    let explained = payload["reason"].as_str().map(|_| {
        Some(
            payload["card_differences"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        )
    });
    card_books_settled(state, raffle, draw, cutoff, explained).await?;
    Ok(())
}

/// The longest written reason a reconciliation acknowledgement takes.
pub const MAX_REASON_CHARS: usize = 2000;

/// Where the deployment takes cards: refuses unless the draw is cut off,
/// Stripe's books were fetched since, and every difference bearing on the
/// draw is explained (by a decision on its reversal, or by a written
/// reason). `explained`: `None` without a reason; `Some(None)` with a
/// reason for whatever differs now (a request); `Some(Some(keys))` with a
/// reason written for those differences (an approval: one not among them
/// is refused, so the approver never acknowledges a difference nobody
/// explained). The unexplained differences' keys ([`Difference::key`]).
///
/// [`Difference::key`]: crate::app::stripe::reconcile::Difference::key
async fn card_books_settled(
    state: &AppState,
    id: &RaffleId,
    draw: &DrawId,
    cutoff: raffle_core::Timestamp,
    explained: Option<Option<Vec<String>>>,
) -> Result<Vec<String>, AppError> {
    let Some(card) = crate::app::stripe::reconcile::for_raffle(state, id).await? else {
        return Ok(Vec::new());
    };
    // Stripe's books can only be complete for the draw once its sales are.
    if raffle_core::Timestamp::now() < cutoff {
        return Err(AppError::refused(Refusal::CutoffNotPassed {
            draw: draw.to_string(),
        }));
    }
    if card.fetched.as_ref().is_none_or(|f| f.started < cutoff) {
        return Err(AppError::refused(Refusal::CardBooksStale {
            cutoff: cutoff.to_string(),
        }));
    }
    let differences: Vec<String> = card.unexplained(cutoff).iter().map(|d| d.key()).collect();
    let unexplained = match &explained {
        None => differences.len(),
        Some(None) => 0,
        Some(Some(keys)) => differences.iter().filter(|d| !keys.contains(d)).count(),
    };
    if unexplained > 0 {
        return Err(AppError::refused(Refusal::CardDifferencesUnexplained {
            count: unexplained as u64,
        }));
    }
    Ok(differences)
}

/// Refuses while reversed card payments of sales eligible for the draw
/// wait for finance: their tickets cannot be counted, or left out, before
/// two people decided (GLI-31 2.6.3).
async fn reversals_settled(
    state: &AppState,
    raffle: &RaffleId,
    draw: &DrawId,
) -> Result<(), AppError> {
    let open: Vec<String> = state
        .store
        .reversals(Some(raffle))
        .await?
        .into_iter()
        .filter(|r| r.status == "open")
        .map(|r| r.order)
        .collect();
    let unsettled = state.store.unsettled_card_sales(raffle).await?;
    if open.is_empty() && unsettled.is_empty() {
        return Ok(());
    }
    let (reversed, uncaptured) = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        let cutoff = r.draw_config(draw)?.cutoff;
        let eligible = |sale: &String| {
            r.sale(sale)
                .is_some_and(|s| !s.voided && s.sequenced < cutoff)
        };
        (
            open.iter().filter(|s| eligible(s)).count(),
            unsettled
                .iter()
                .filter(|s| eligible(s) && !open.contains(s))
                .count(),
        )
    };
    if reversed > 0 {
        return Err(AppError::refused(Refusal::PaymentReversalsOpen {
            count: reversed as u64,
        }));
    }
    if uncaptured > 0 {
        return Err(AppError::refused(Refusal::CardPaymentsUnsettled {
            count: uncaptured as u64,
        }));
    }
    Ok(())
}

/// Finance takes up a reversed card payment: asks for its sale to be
/// voided (reason `payment_reversed`, no refund: the money is gone) or
/// kept. A second person approves or rejects the request, as every void
/// (GLI-31 5.2.4); until one is approved the reversal stays open. Returns
/// the approval id.
pub async fn request_reversal_decision(
    state: &AppState,
    staff: &Staff,
    reversal: &str,
    void: bool,
) -> Result<ApprovalId, AppError> {
    let r = state
        .store
        .reversal(reversal)
        .await?
        .ok_or_else(|| AppError::not_found("no such reversal"))?;
    if r.status != "open" {
        return Err(AppError::refused(Refusal::ReversalDecided {
            status: r.status,
        }));
    }
    if let Some(approval) = &r.approval
        && let Some((_, _, status, _)) = state.store.approval(approval).await?
        && status == "pending"
    {
        return Err(AppError::refused(Refusal::ReversalDecided {
            status: "waiting for a second person".into(),
        }));
    }
    let raffle = RaffleId::parse(&r.raffle)?;
    let sale = SaleId::parse(&r.order)?;
    let id = if void {
        {
            let ledger = state.sequencer.ledger();
            let voided = ledger
                .raffle(&raffle)
                .and_then(|x| x.sale(&sale))
                .ok_or_else(|| AppError::not_found("no such sale"))?
                .voided;
            if voided {
                return Err(AppError::refused(Refusal::SaleAlreadyVoided {
                    sale: sale.to_string(),
                }));
            }
        }
        request_approval(
            state,
            staff,
            "void",
            json!({ "raffle": raffle, "sale": sale, "reason": VoidReason::PaymentReversed, "refund": false, "reversal": r.id }),
        )
        .await?
    } else {
        request_approval(
            state,
            staff,
            "keep_sale",
            json!({ "raffle": raffle, "sale": sale, "reversal": r.id, "cause": r.cause }),
        )
        .await?
    };
    state.store.link_reversal(&r.id, &id).await?;
    Ok(id)
}

/// A claim of a sale whose card payment is disputed, or whose dispute was
/// lost, is refused (the money may go back to the buyer's bank).
async fn not_disputed(state: &AppState, sale: &SaleId) -> Result<(), AppError> {
    if let Some(d) = state.store.dispute_of(sale).await?
        && (d == "open" || d == "lost")
    {
        return Err(AppError::refused(Refusal::SaleDisputed {
            sale: sale.to_string(),
        }));
    }
    // Nor is a prize paid on a ticket whose money was never taken, was
    // given back outside raffled, or waits for finance's decision.
    if !state.store.payment_stands(sale).await? {
        return Err(AppError::refused(Refusal::SalePaymentUnsettled {
            sale: sale.to_string(),
        }));
    }
    Ok(())
}

/// Asks for a sale to be voided (and refunded, with `refund`) for a reason
/// of the fixed list; a second person approves it (GLI-31 2.3.3, 5.2.4).
/// Returns the approval id.
pub async fn request_void(
    state: &AppState,
    staff: &Staff,
    raffle: &RaffleId,
    sale: &SaleId,
    reason: VoidReason,
    refund: bool,
) -> Result<ApprovalId, AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        let s = r
            .sale(sale)
            .ok_or_else(|| AppError::not_found("no such sale"))?;
        if s.voided {
            return Err(AppError::refused(Refusal::SaleAlreadyVoided {
                sale: sale.to_string(),
            }));
        }
    }
    request_approval(
        state,
        staff,
        "void",
        json!({ "raffle": raffle, "sale": sale, "reason": reason, "refund": refund }),
    )
    .await
}

pub(crate) async fn request_approval(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    payload: Value,
) -> Result<ApprovalId, AppError> {
    request_approval_as(state, &staff.user.id, &staff.user.staff_id, kind, payload).await
}

/// A request made by a user who is not signed in here: a sales unit's
/// operator, whose request the unit signed (GLI-31 2.3.3).
pub(crate) async fn request_approval_as(
    state: &AppState,
    user_id: &str,
    staff_id: &str,
    kind: &str,
    payload: Value,
) -> Result<ApprovalId, AppError> {
    let id = ApprovalId::new_random();
    state
        .store
        .create_approval(&id, kind, &payload, user_id)
        .await?;
    state
        .store
        .record_event(
            "approvals",
            "requested",
            &json!({ "approval": id, "kind": kind, "payload": without_identity(&payload) }),
            Some(staff_id),
        )
        .await?;
    Ok(id)
}

/// A request's payload for the significant-event record: a supervised
/// claim's identity details stay in the approval alone, shown to approvers.
fn without_identity(payload: &Value) -> Value {
    let mut p = payload.clone();
    if let Some(o) = p.as_object_mut()
        && o.remove("identity").is_some()
    {
        o.insert("identity".into(), json!("recorded"));
    }
    p
}

/// How a decision ended.
pub enum Decided {
    Rejected,
    /// Approved, and recorded without a log entry (a reversed card payment
    /// whose sale finance keeps): what the approver is told.
    Recorded(Value),
    /// Approved, and the change sequenced.
    Approved(Box<Sequenced>),
    /// Approved, and the change to a user made: what the approver is told
    /// (a new user's one-time enrolment code, shown to them alone).
    People(Value),
}

/// A second person's decision on a request: only a user of a role the
/// raffle names as approvers, never the requester (GLI-31 5.2.4).
pub async fn decide_approval(
    state: &AppState,
    staff: &Staff,
    id: &ApprovalId,
    approve: bool,
) -> Result<Decided, AppError> {
    let status = if approve { "approved" } else { "rejected" };
    let (kind, requester, current, payload) = state
        .store
        .approval(id)
        .await?
        .ok_or_else(|| AppError::not_found("no such approval"))?;
    // Changes to people are approved by another administrator; the rest by
    // the raffle's approvers, a jurisdiction setting.
    let people = crate::app::people::is_people_kind(&kind);
    if people || crate::app::rsu::is_device_kind(&kind) {
        staff.require(&[raffle_core::Role::Administrator])?;
    } else {
        let allowed: Vec<raffle_core::Role> = {
            let raffle_id = payload["raffle"].as_str().unwrap_or_default();
            let ledger = state.sequencer.ledger();
            ledger
                .raffle(raffle_id)
                .map(|r| r.config.approvers.clone())
                .unwrap_or_default()
        };
        if !staff.has(&allowed) {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this raffle's approvers are: {}",
                    allowed
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    // A unit's void names its supervising operator too: they are no
    // second person for it either.
    if requester == staff.user.id
        || payload["supervisor"].as_str() == Some(staff.user.staff_id.as_str())
    {
        return Err(
            AppError::refused(Refusal::ApproverIsRequester {}).with_status(StatusCode::FORBIDDEN)
        );
    }
    if current != "pending" {
        return Err(AppError::refused(Refusal::ApprovalAlreadyDecided {
            status: current.clone(),
        }));
    }
    let (kind, payload, requester) = state
        .store
        .claim_approval(id, &staff.user.id, status)
        .await?
        .ok_or_else(|| AppError::refused(Refusal::ApprovalDecidedMeanwhile {}))?;
    state
        .store
        .record_event(
            "approvals",
            status,
            &json!({ "approval": id, "kind": kind }),
            Some(&staff.user.staff_id),
        )
        .await?;
    if !approve {
        return Ok(Decided::Rejected);
    }
    if people {
        return crate::app::people::apply(state, staff, id, &kind, &payload).await;
    }
    if kind == "keep_sale" {
        // Finance keeps a sale whose card payment was reversed (a dispute
        // won, a refund made by mistake and charged again): nothing changes
        // in the log, the reversal is closed.
        let reversal = payload["reversal"].as_str().unwrap_or_default();
        state.store.close_reversal(reversal, "kept").await?;
        state
            .store
            .finish_approval(id, "approved", "sale kept")
            .await?;
        state
            .store
            .record_event(
                "payment",
                "reversal_kept",
                &json!({ "reversal": reversal, "sale": payload["sale"] }),
                Some(&staff.user.staff_id),
            )
            .await?;
        return Ok(Decided::Recorded(
            json!({ "reversal": reversal, "sale": payload["sale"], "kept": true }),
        ));
    }
    let requested_by = state.store.staff_id_of(&requester).await?;
    let approved_by = staff.user.staff_id.clone();
    // The payload was written by request_approval; its ids are parsed again
    // here, as everything read back from the database is.
    let field = |k: &str| -> Result<String, AppError> {
        payload[k].as_str().map(str::to_string).ok_or_else(|| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("approval {id} has no {k} in its payload"),
            )
        })
    };
    let raffle = || -> Result<RaffleId, AppError> { Ok(RaffleId::parse(&field("raffle")?)?) };
    let draw = || -> Result<DrawId, AppError> { Ok(DrawId::parse(&field("draw")?)?) };
    let sale = || -> Result<SaleId, AppError> { Ok(SaleId::parse(&field("sale")?)?) };
    let device_change = crate::app::rsu::approved_change(
        &kind,
        &payload,
        requested_by.clone(),
        approved_by.clone(),
    )?;
    let change = match kind.as_str() {
        _ if device_change.is_some() => device_change.expect("matched"),
        "void" => Change::VoidSale {
            raffle: raffle()?,
            sale: sale()?,
            reason: serde_json::from_value(payload["reason"].clone())
                .map_err(|e| AppError::bad_request(e.to_string()))?,
            refund: payload["refund"].as_bool().unwrap_or(false),
            requested_by,
            approved_by,
        },
        "reconciliation" => Change::Reconcile {
            raffle: raffle()?,
            draw: draw()?,
            requested_by,
            approved_by,
        },
        "redraw" => Change::Redraw {
            raffle: raffle()?,
            draw: draw()?,
            reason: serde_json::from_value(payload["reason"].clone())
                .map_err(|e| AppError::bad_request(e.to_string()))?,
            requested_by,
            approved_by,
        },
        "supervised_claim" => {
            let sale = sale()?;
            let published = state
                .sequencer
                .ledger()
                .raffle(&raffle()?)
                .and_then(|r| r.revealed.get(sale.as_str()).cloned())
                .unwrap_or_default();
            Change::PayClaim {
                raffle: raffle()?,
                draw: draw()?,
                sale,
                validation_number: published,
                paperwork: payload["paperwork"].as_bool().unwrap_or(false),
                by: requested_by,
                supervised_by: Some(approved_by),
            }
        }
        other => {
            return Err(AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("unknown approval kind {other}"),
            ));
        }
    };
    let refund_sale = (kind == "void" && payload["refund"].as_bool() == Some(true))
        .then(|| payload["sale"].as_str().map(str::to_string))
        .flatten();
    if kind == "reconciliation"
        && let Err(e) = reconciliation_still_settled(state, &raffle()?, &draw()?, &payload).await
    {
        // Claimed above: it ends here, refused, and the requester asks
        // again once the figures are settled.
        state
            .store
            .finish_approval(id, "failed", &e.message)
            .await?;
        return Err(e);
    }
    match state.sequencer.submit(change).await {
        Ok(s) => {
            state
                .store
                .finish_approval(id, "approved", &format!("log index {}", s.index))
                .await?;
            if kind == "void"
                && let Some(reversal) = payload["reversal"].as_str()
            {
                state.store.close_reversal(reversal, "voided").await?;
            }
            // The void is in the log; the money goes back through the
            // provider (retried until it succeeds if it fails now).
            if let Some(sale) = refund_sale
                && let Err(e) = crate::app::payments::refund_voided(state, &sale).await
            {
                tracing::error!(sale = %sale, error = %e.message, "refunding a voided sale; it will be retried");
            }
            Ok(Decided::Approved(Box::new(s)))
        }
        Err(e) => {
            state
                .store
                .finish_approval(id, "failed", &e.to_string())
                .await?;
            Err(e.into())
        }
    }
}

/// Fixes a draw's eligible set and seed commitment (`draw.frozen`).
pub async fn freeze_draw(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    draw: &DrawId,
) -> Result<Sequenced, AppError> {
    let s = state
        .sequencer
        .submit(Change::FreezeDraw {
            raffle: id.clone(),
            draw: draw.clone(),
        })
        .await?;
    draw_event(state, staff, "frozen", id, draw, &s).await?;
    Ok(s)
}

/// Accepts the configured witness's signature over the `draw.frozen`
/// entry, once per draw (architecture page, "The draw"); returns the
/// witness's name.
pub async fn contribute(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    draw: &DrawId,
    witness: &str,
    signature_base64: &str,
) -> Result<String, AppError> {
    let keys: Vec<transparency::NoteVerifier> = state
        .config
        .witness_keys
        .iter()
        .map(|k| transparency::NoteVerifier::from_vkey(k))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("RAFFLE_WITNESS_KEYS: {e}"),
            )
        })?;
    let key = keys.iter().find(|k| k.name() == witness).ok_or_else(|| {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{witness:?} is not a configured witness"),
        )
    })?;
    let (_, _, message) = crate::app::witness::frozen_entry(state, id, draw).await?;
    let signature = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(signature_base64.trim())
            .map_err(|e| AppError::bad_request(format!("signature is not base64: {e}")))?
    };
    if !key.verify_raw(&message, &signature) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the signature does not verify with the witness key over the frozen entry",
        ));
    }
    state
        .store
        .save_contribution(id, draw, key.name(), &signature)
        .await?;
    state
        .store
        .record_event(
            "draws",
            "contribution",
            &json!({ "raffle": id, "draw": draw, "witness": key.name() }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(key.name().to_string())
}

/// Performs a draw (`draw.performed`). With a witness configured, its
/// contribution is required: the operator alone cannot fix the outcome.
pub async fn perform_draw(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    draw: &DrawId,
) -> Result<Sequenced, AppError> {
    let stored = match state.store.contribution(id, draw).await? {
        Some(c) => Some(c),
        None => crate::app::witness::fetch_contribution(state, id, draw).await?,
    };
    let contribution = match stored {
        Some(c) => c,
        None if state.config.witness_keys.is_empty() => Vec::new(),
        None => {
            return Err(AppError::refused(Refusal::WitnessContributionRequired {}));
        }
    };
    let s = state
        .sequencer
        .submit(Change::PerformDraw {
            raffle: id.clone(),
            draw: draw.clone(),
            contribution,
        })
        .await?;
    draw_event(state, staff, "performed", id, draw, &s).await?;
    Ok(s)
}

/// GLI-31 2.6.4: a drawn number is set aside only for a reason of the fixed
/// list (unclaimed within the claim window, where the raffle redraws
/// unclaimed prizes; winner ineligible), and only once a second person
/// approves; the redraw continues the draw's random stream. Returns the
/// approval id.
pub async fn request_redraw(
    state: &AppState,
    staff: &Staff,
    id: &RaffleId,
    draw: &DrawId,
    reason: RedrawReason,
) -> Result<ApprovalId, AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        if !r.draws.contains_key(draw) {
            return Err(AppError::not_found("no such draw, or it is not drawn yet"));
        }
        // The ledger's own rule, checked before a second person is asked.
        r.check_redraw(draw, reason, raffle_core::Timestamp::now())?;
    }
    request_approval(
        state,
        staff,
        "redraw",
        json!({ "raffle": id, "draw": draw, "reason": reason }),
    )
    .await
}

/// A paid claim: the entry and the prize.
pub struct PaidClaim {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub prize: Money,
    pub sequenced: Sequenced,
}

/// GLI-31 2.7.1: a winning ticket is validated by its validation number
/// (typed, or scanned from its barcode) before payout; over the raffle's
/// threshold only once the paperwork is completed.
pub async fn pay_claim(
    state: &AppState,
    staff: &Staff,
    validation_number: &str,
    paperwork_completed: bool,
) -> Result<PaidClaim, AppError> {
    let vn = ValidationNumber::parse(validation_number.trim())?;
    let (raffle, sale, draw, published) = unclaimed_win(state, validation_number).await?;
    not_disputed(state, &sale).await?;
    if published {
        return Err(AppError::refused(Refusal::ValidationNumberPublished {
            sale: sale.to_string(),
        }));
    }
    let s = state
        .sequencer
        .submit(Change::PayClaim {
            raffle: raffle.clone(),
            draw: draw.clone(),
            sale,
            validation_number: vn.to_text(),
            paperwork: paperwork_completed,
            by: staff.user.staff_id.clone(),
            supervised_by: None,
        })
        .await?;
    let Body::ClaimPaid(c) = &s.entry.body else {
        unreachable!("a claim entry")
    };
    Ok(PaidClaim {
        raffle,
        draw,
        prize: c.prize,
        sequenced: s,
    })
}

/// The ticket a validation number names and its first unpaid win: raffle,
/// sale, draw, and whether an earlier claim published the number.
async fn unclaimed_win(
    state: &AppState,
    validation_number: &str,
) -> Result<(RaffleId, SaleId, DrawId, bool), AppError> {
    let vn = ValidationNumber::parse(validation_number.trim())?;
    let Some((raffle, sale)) = crate::app::receipt::find_by_validation(state, &vn).await? else {
        return Err(AppError::not_found("no ticket has this validation number"));
    };
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(&raffle)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let draw = r
        .config
        .draws
        .iter()
        .find(|d| {
            r.draws
                .get(&d.id)
                .is_some_and(|s| !s.claimed && s.winner.as_ref().is_some_and(|w| w.sale == sale))
        })
        .map(|d| d.id.clone())
        .ok_or_else(|| AppError::refused(Refusal::NoUnclaimedPrize {}))?;
    let published = r.revealed.contains_key(&sale);
    Ok((raffle, sale, draw, published))
}

/// Who a supervised claim's winner proved to be: recorded with the request
/// in the operator's database, shown to approvers, never in the log or the
/// significant events.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The winner's full name as on the document.
    pub name: String,
    /// The identity document checked: its kind and number (e.g. "driver's
    /// licence D1234-56789-01234").
    pub document: String,
}

/// GLI-31 2.7.1, 5.2.4: a win of a sale whose validation number an earlier
/// claim published is paid only through a supervised claim: the requester
/// checks and records the winner's identity, a second person of the
/// raffle's approver roles approves, and `claim.paid` names both. Returns
/// the approval id.
pub async fn request_supervised_claim(
    state: &AppState,
    staff: &Staff,
    validation_number: &str,
    identity: Identity,
    paperwork_completed: bool,
) -> Result<ApprovalId, AppError> {
    for (what, text) in [("name", &identity.name), ("document", &identity.document)] {
        let t = text.trim();
        if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the winner's {what} must be 1 to 200 characters, without control characters"
                ),
            ));
        }
    }
    let (raffle, sale, draw, published) = unclaimed_win(state, validation_number).await?;
    not_disputed(state, &sale).await?;
    if !published {
        return Err(AppError::refused(Refusal::ValidationNumberStillSecret {}));
    }
    let identity = Identity {
        name: identity.name.trim().to_string(),
        document: identity.document.trim().to_string(),
    };
    request_approval(
        state,
        staff,
        "supervised_claim",
        json!({ "raffle": raffle, "draw": draw, "sale": sale, "paperwork": paperwork_completed, "identity": identity }),
    )
    .await
}

/// Sets a jurisdiction's texts (administrators), recording the old and new
/// values (GLI-31 5.2.4).
pub async fn set_jurisdiction_texts(
    state: &AppState,
    staff: &Staff,
    texts: raffle_core::store::people::JurisdictionTexts,
) -> Result<(), AppError> {
    let code_ok = (2..=16).contains(&texts.jurisdiction.len())
        && texts
            .jurisdiction
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a jurisdiction code is 2 to 16 capital letters, digits or dashes, like CA-ON",
        ));
    }
    for (what, text) in [
        ("help line", &texts.help_line),
        ("estimate notice (English)", &texts.estimate_notice_en),
        ("estimate notice (French)", &texts.estimate_notice_fr),
    ] {
        if text.trim().is_empty() || text.len() > 500 {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the {what} must be 1 to 500 characters"),
            ));
        }
    }
    let old = state.store.set_jurisdiction_texts(&texts).await?;
    let as_json = |t: &raffle_core::store::people::JurisdictionTexts| json!({ "help_line": t.help_line, "estimate_notice_en": t.estimate_notice_en, "estimate_notice_fr": t.estimate_notice_fr });
    state
        .store
        .record_event(
            "settings",
            "jurisdiction_texts_changed",
            &json!({ "jurisdiction": texts.jurisdiction, "old": old.as_ref().map(as_json), "new": as_json(&texts) }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(())
}
