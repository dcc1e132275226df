//! Sales units (RSUs), server side: the master list (GLI-31 5.4.1),
//! enrolment by two administrators (6.1.3), remote disabling (5.4.2),
//! allocations of draw numbers (3.2.1), declarations of units that cannot
//! be reconciled (2.6.1, by two people), and the sync protocol (6.1.2,
//! 6.1.4; [`raffle_core::rsu`]).
//!
//! Sync guarantees:
//! - a request is the unit's: signed by its enrolled key over the body and
//!   a fresh nonce (used once), not a bearer token an eavesdropper could
//!   replay; an unsigned or replayed request changes nothing;
//! - idempotent and resumable: a record already in the log (same sequence,
//!   same hash) is skipped, so an upload cut at any point and sent again
//!   lands every record exactly once; records are submitted in the unit's
//!   order and the sequencer keeps it;
//! - every record it sends is logged, as a sale or as `rsu.rejected` with
//!   the reason the ledger gives; after the first record that cannot chain
//!   (forged, forked, out of order) the rest of the request is not taken,
//!   and the answer says where it stopped;
//! - the answer is signed with the log's key (the unit pinned it at
//!   enrolment) over the body and the request's nonce; it carries the
//!   operator list (staff ids and PIN hashes of the operators who may
//!   sign in on the unit, GLI-31 3.2.2), valid until the unit must
//!   revalidate; a record whose operator was on no list the unit was
//!   given, valid at its device time, is refused (`operator`);
//! - revalidation (5.4.2): a signed sync that passes every check
//!   revalidates the unit; one that fails a check only the unit's key can
//!   fail (a forked head; forged, forked or out-of-order records; a clock
//!   run backwards) counts against it, and after
//!   `RAFFLE_RSU_REVALIDATION_FAILURES` in a row raffled disables it.
//!   Unsigned requests never count: anyone who read a unit's id in the
//!   public log could send them.
//!
//! Assumptions: a unit's records fit in pages of [`MAX_RECORDS`] (the
//! request body limit); the unit keeps its journal until the answer
//! acknowledges its head.

use crate::AppState;
use crate::app::auth::Staff;
use crate::app::operations::{request_approval, request_approval_as};
use crate::error::AppError;
use axum::http::StatusCode;
use raffle_core::Refusal;
use raffle_core::entry::{
    Body, Digest32, DisableReason, HexBytes, RejectReason, RsuRecord, RsuReprinted, RsuSealed, U64,
    UnreconcilableReason, VoidReason,
};
use raffle_core::ids::{ApprovalId, DrawId, RaffleId, RsuId, StaffId};
use raffle_core::rsu::{self, Head};
use raffle_core::store::devices::OperatorList;
use raffle_core::store::sequencer::{Change, Sequenced};
use raffle_core::{Error, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most records in one sync request (about 600 bytes each, within the
/// request body limit).
pub const MAX_RECORDS: usize = 200;
/// Most seals in one sync request.
pub const MAX_SEALS: usize = 16;
/// Most numbers one allocation hands out.
pub const MAX_ALLOCATION: u64 = 1_000_000;

/// The approval kinds of this module that administrators decide (a unit's
/// enrolment and re-enabling concern no raffle).
pub fn is_device_kind(kind: &str) -> bool {
    matches!(kind, "rsu_enrol" | "rsu_enable")
}

/// A unit's chain head on the wire.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireHead {
    #[schemars(with = "String")]
    pub seq: U64,
    #[schemars(with = "String")]
    pub hash: Digest32,
}

/// A seal on the wire (its unit is the request's).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireSeal {
    #[schemars(with = "String")]
    pub raffle: RaffleId,
    #[schemars(with = "String")]
    pub draw: DrawId,
    #[schemars(with = "String")]
    pub seq: U64,
    #[schemars(with = "String")]
    pub hash: Digest32,
    #[schemars(with = "String")]
    pub device_time: Timestamp,
    #[schemars(with = "String")]
    pub signature: HexBytes,
}

/// A reprint on the wire (GLI-31 2.4; its unit is the request's).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireReprint {
    #[schemars(with = "String")]
    pub raffle: RaffleId,
    /// The sale's sequence on the unit.
    #[schemars(with = "String")]
    pub seq: U64,
    pub copy: u32,
    #[schemars(with = "String")]
    pub operator: StaffId,
    #[schemars(with = "String")]
    pub supervisor: StaffId,
    #[schemars(with = "String")]
    pub device_time: Timestamp,
    #[schemars(with = "String")]
    pub signature: HexBytes,
}

/// A void request on the wire (GLI-31 2.3.3; signed over
/// [`rsu::void_message`]).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireVoid {
    #[schemars(with = "String")]
    pub raffle: RaffleId,
    #[schemars(with = "String")]
    pub seq: U64,
    pub reason: VoidReason,
    #[schemars(with = "String")]
    pub operator: StaffId,
    #[schemars(with = "String")]
    pub supervisor: StaffId,
    #[schemars(with = "String")]
    pub device_time: Timestamp,
    #[schemars(with = "String")]
    pub signature: HexBytes,
}

/// A sync request's body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The unit's chain head now (its journal may hold more than it sends).
    pub head: WireHead,
    /// The unit's software and version, for the master list.
    pub software: Option<String>,
    /// Its records, in chain order, at most [`MAX_RECORDS`].
    #[serde(default)]
    pub records: Vec<RsuRecord>,
    /// Its seals, at most [`MAX_SEALS`].
    #[serde(default)]
    pub seals: Vec<WireSeal>,
    /// Tickets it printed again, at most [`MAX_SEALS`].
    #[serde(default)]
    pub reprints: Vec<WireReprint>,
    /// Sales its operators ask to void, at most [`MAX_SEALS`].
    #[serde(default)]
    pub voids: Vec<WireVoid>,
    /// The unit found its journal corrupt and stopped selling: why (GLI-31
    /// 3.4.4, 2.8.1 g). Recorded as a significant event.
    pub corruption: Option<String>,
}

/// Per unit: one sync at a time, and when an authentication failure was
/// last recorded.
#[derive(Default)]
pub struct Syncs {
    units: std::sync::Mutex<std::collections::HashMap<RsuId, UnitSync>>,
}

struct UnitSync {
    serial: std::sync::Arc<tokio::sync::Mutex<()>>,
    failure_reported: Option<std::time::Instant>,
}

impl Syncs {
    fn unit<T>(&self, rsu: &RsuId, f: impl FnOnce(&mut UnitSync) -> T) -> T {
        let mut units = self.units.lock().expect("sync lock");
        let u = units.entry(rsu.clone()).or_insert_with(|| UnitSync {
            serial: Default::default(),
            failure_reported: None,
        });
        f(u)
    }

    /// The unit's sync lock (only enrolled units get one).
    pub fn lock(&self, rsu: &RsuId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.unit(rsu, |u| u.serial.clone())
    }

    /// Whether to record this authentication failure (one a minute).
    pub fn should_report_failure(&self, rsu: &RsuId) -> bool {
        self.unit(rsu, |u| {
            let now = std::time::Instant::now();
            let due = u
                .failure_reported
                .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(60));
            if due {
                u.failure_reported = Some(now);
            }
            due
        })
    }
}

/// What the server answers a unit, and the signature over it.
pub struct SyncAnswer {
    pub body: Vec<u8>,
    pub signature: [u8; 64],
}

fn bad(what: impl Into<String>) -> AppError {
    AppError::bad_request(what)
}

/// A nonce: 16 random bytes as 32 lower-case hex digits.
fn check_nonce(nonce: &str) -> Result<(), AppError> {
    if nonce.len() == 32
        && nonce
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(bad("Rsu-Nonce must be 32 lower-case hex digits"))
    }
}

/// One sync: checks the request's signature and nonce, logs the unit's
/// head (`rsu.seen`) when it moved, sequences its new records in order and
/// its seals, releases its unsold numbers of a raffle once it sealed for
/// the last draw, and answers with the unit's state, signed.
pub async fn sync(
    state: &AppState,
    rsu: &RsuId,
    nonce: &str,
    signature: &[u8],
    body: &[u8],
) -> Result<SyncAnswer, AppError> {
    check_nonce(nonce)?;
    let origin = state.sequencer.ledger().origin().to_string();
    let key = state
        .sequencer
        .ledger()
        .device(rsu)
        .map(|d| d.key)
        .ok_or_else(|| AppError::not_found("no enrolled sales unit of that id"))?;
    // GLI-31 6.1.2: the unit authenticates every request with its key.
    if !rsu::verify(
        &key,
        &rsu::request_message(&origin, rsu, nonce, body),
        signature,
    ) {
        // Anyone who read the unit's id in the public log can send these:
        // one event a minute per unit, however many.
        if state.rsu_syncs.should_report_failure(rsu) {
            state
                .store
                .record_event("rsu", "authentication_failed", &json!({ "rsu": rsu }), None)
                .await?;
        }
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "the request's signature is not this unit's",
        ));
    }
    let req: SyncRequest = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the sync request does not read: {e}")))?;
    if req.records.len() > MAX_RECORDS
        || [req.seals.len(), req.reprints.len(), req.voids.len()]
            .iter()
            .any(|&n| n > MAX_SEALS)
    {
        return Err(bad(format!(
            "at most {MAX_RECORDS} records and {MAX_SEALS} seals, reprints and voids per request: send the rest in the next"
        )));
    }
    if req.records.iter().any(|r| &r.rsu != rsu) {
        return Err(bad("every record must be the requesting unit's"));
    }
    if req.software.as_ref().is_some_and(|s| s.len() > 100) {
        return Err(bad("software: at most 100 characters"));
    }
    if req.corruption.as_ref().is_some_and(|s| s.len() > 300) {
        return Err(bad("corruption: at most 300 characters"));
    }
    if !state.store.use_device_nonce(rsu, nonce).await? {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "this nonce was used before: sign the request again with a fresh one",
        ));
    }
    // One sync of a unit at a time: a retry racing the request it retries
    // must see what that one sequenced.
    let unit = state.rsu_syncs.lock(rsu);
    let _serial = unit.lock().await;
    if let Some(why) = &req.corruption {
        // Signed by the unit: only its key holder can report it.
        state
            .store
            .record_event(
                "rsu",
                "journal_corrupt",
                &json!({ "rsu": rsu, "reason": why, "head": req.head.seq.0.to_string() }),
                None,
            )
            .await?;
    }
    let received = Timestamp::now();
    let head = Head {
        seq: req.head.seq.0,
        hash: req.head.hash.0,
    };
    let lists = state.store.operator_lists(rsu).await?;
    let planned = plan(state, &origin, &key, rsu, head, &req, received, &lists);
    let Some((changes, skipped)) = planned else {
        state
            .store
            .record_event(
                "rsu",
                "head_forked",
                &json!({ "rsu": rsu, "seq": head.seq.to_string() }),
                None,
            )
            .await?;
        revalidation(state, rsu, false, false).await?;
        return Err(AppError::refused(Refusal::RsuHeadForked {
            rsu: rsu.to_string(),
            seq: head.seq,
        }));
    };
    let kinds: Vec<&'static str> = changes
        .iter()
        .map(|c| match c {
            Change::RsuSeen { .. } => "seen",
            Change::RsuRecord { .. } => "record",
            _ => "seal",
        })
        .collect();
    let seals: Vec<&WireSeal> = req.seals.iter().collect();
    let results = state.sequencer.submit_all(changes).await;
    let mut sequenced = 0u64;
    let mut rejected = Vec::new();
    let mut sealed = Vec::new();
    let mut seal_at = 0;
    let mut unavailable = None;
    let mut faulty = false;
    for (kind, result) in kinds.iter().zip(&results) {
        match (*kind, result) {
            ("record", Ok(s)) => match &s.entry.body {
                Body::RsuRejected(r) => {
                    // Faults only the unit's key can commit.
                    faulty |= !r.reason.chained() || r.reason == RejectReason::Clock;
                    rejected.push(json!({ "seq": r.record.seq, "reason": r.reason }));
                    state
                        .store
                        .record_event(
                            "rsu",
                            "record_refused",
                            &json!({ "rsu": rsu, "seq": r.record.seq, "reason": r.reason, "index": s.index }),
                            None,
                        )
                        .await?;
                }
                _ => sequenced += 1,
            },
            ("seal", r) => {
                let seal = seals[seal_at];
                seal_at += 1;
                let outcome = match r {
                    Ok(s) => json!({ "log_index": s.index.to_string() }),
                    Err(e) => unsettled(e),
                };
                sealed.push(json!({ "raffle": seal.raffle, "draw": seal.draw, "result": outcome }));
            }
            (_, Err(Error::Unavailable(why) | Error::Storage(why))) => {
                unavailable.get_or_insert(why.clone());
            }
            _ => {}
        }
    }
    if let Some(why) = unavailable {
        tracing::warn!(rsu = %rsu, error = %why, "a sync was cut short");
    }
    // The lists loaded before planning: this sync issues its own only
    // once its reprints and voids are judged.
    let enabled = state
        .sequencer
        .ledger()
        .device(rsu)
        .is_some_and(|d| d.enabled);
    let disabled = || json!({ "refused": "the unit is disabled" });
    let mut reprinted = Vec::new();
    for w in &req.reprints {
        reprinted.push(if enabled {
            reprint(state, &origin, rsu, &lists, w, received, &mut faulty).await?
        } else {
            json!({ "seq": w.seq, "copy": w.copy, "result": disabled() })
        });
    }
    let mut voided = Vec::new();
    for w in &req.voids {
        voided.push(if enabled {
            void(state, &origin, &key, rsu, &lists, w, received, &mut faulty).await?
        } else {
            json!({ "seq": w.seq, "result": disabled() })
        });
    }
    let progressed = sequenced > 0
        || sealed.iter().any(|x| x["result"]["log_index"].is_string())
        || reprinted
            .iter()
            .any(|x| x["result"]["log_index"].is_string());
    release_unsold(state, rsu).await;
    state
        .store
        .device_contact(rsu, req.software.as_deref())
        .await?;
    revalidation(state, rsu, !faulty, progressed).await?;
    let operators = operator_list(state, rsu).await?;
    let mut answer = answer_body(state, rsu, nonce, skipped, sequenced, rejected, sealed);
    answer["operators"] = operators;
    answer["reprints"] = json!(reprinted);
    answer["voids"] = json!(voided);
    let body = serde_json::to_vec(&answer).map_err(|e| bad(e.to_string()))?;
    let signed = rsu::answer_message(&origin, rsu, nonce, &body);
    let signature = state.rsu_signer.sign_raw(&signed);
    Ok(SyncAnswer { body, signature })
}

/// Whether an operator and a different supervisor were both on a list
/// the unit was given, valid at `at` (GLI-31 2.4: supervised access).
fn supervised(
    lists: &[OperatorList],
    operator: &StaffId,
    supervisor: &StaffId,
    at: Timestamp,
) -> Result<(), &'static str> {
    if operator == supervisor {
        return Err("the supervisor must be a second operator");
    }
    let skew = time::Duration::microseconds(rsu::MAX_CLOCK_SKEW_MICROS);
    let Ok(at) = at.to_offset_datetime() else {
        return Err("its device time does not read");
    };
    let listed = |who: &StaffId| lists.iter().any(|l| l.admits(who.as_str(), at, skew));
    if !listed(operator) || !listed(supervisor) {
        return Err("the operator or supervisor was on no operator list the unit held then");
    }
    Ok(())
}

/// One reprint: logged (`rsu.reprinted`) when signed by the unit, of one
/// of its sales, supervised by two listed operators; a copy logged
/// already is acknowledged again. What the answer says of it.
async fn reprint(
    state: &AppState,
    origin: &str,
    rsu: &RsuId,
    lists: &[OperatorList],
    w: &WireReprint,
    received: Timestamp,
    faulty: &mut bool,
) -> Result<Value, AppError> {
    let r = RsuReprinted {
        raffle: w.raffle.clone(),
        rsu: rsu.clone(),
        seq: w.seq,
        copy: w.copy,
        operator: w.operator.clone(),
        supervisor: w.supervisor.clone(),
        device_time: w.device_time,
        signature: w.signature.clone(),
        received,
    };
    let said = |result: Value| json!({ "seq": w.seq, "copy": w.copy, "result": result });
    let (logged, key) = {
        let ledger = state.sequencer.ledger();
        let d = ledger.device(rsu).expect("enrolled");
        (
            d.reprints.get(&w.seq.0).is_some_and(|&c| c >= w.copy),
            d.key,
        )
    };
    if logged {
        return Ok(said(json!({ "logged": true })));
    }
    if !rsu::verify(&key, &rsu::reprint_message(origin, &r), &r.signature.0) {
        *faulty = true;
        return Ok(said(
            json!({ "refused": "the signature is not the unit's" }),
        ));
    }
    if let Err(why) = supervised(lists, &r.operator, &r.supervisor, r.device_time) {
        state
            .store
            .record_event(
                "rsu",
                "reprint_refused",
                &json!({ "rsu": rsu, "seq": w.seq, "copy": w.copy, "reason": why }),
                None,
            )
            .await?;
        return Ok(said(json!({ "refused": why })));
    }
    Ok(
        match state
            .sequencer
            .submit(Change::ReprintRsu { reprint: r })
            .await
        {
            Ok(s) => said(json!({ "log_index": s.index.to_string() })),
            Err(e) => said(unsettled(&e)),
        },
    )
}

/// One void request (GLI-31 2.3.3): signed by the unit, of one of its
/// sales, by an operator with a second as supervisor; it waits for
/// finance's approval as any void does, requested by the operator, and the
/// price is returned at the unit. Sent again, it names the same request.
#[allow(clippy::too_many_arguments)]
async fn void(
    state: &AppState,
    origin: &str,
    key: &[u8; 32],
    rsu: &RsuId,
    lists: &[OperatorList],
    w: &WireVoid,
    received: Timestamp,
    faulty: &mut bool,
) -> Result<Value, AppError> {
    let said = |result: Value| json!({ "seq": w.seq, "result": result });
    let message = rsu::void_message(
        origin,
        &w.raffle,
        rsu,
        w.seq.0,
        w.reason,
        &w.operator,
        &w.supervisor,
        w.device_time,
    );
    if !rsu::verify(key, &message, &w.signature.0) {
        *faulty = true;
        return Ok(said(
            json!({ "refused": "the signature is not the unit's" }),
        ));
    }
    if w.device_time > rsu::latest_device_time(received) {
        *faulty = true;
        return Ok(said(
            json!({ "refused": "its device time is ahead of the server's" }),
        ));
    }
    if let Err(why) = supervised(lists, &w.operator, &w.supervisor, w.device_time) {
        return Ok(said(json!({ "refused": why })));
    }
    // Both must still be staff now, not only when the unit's list was
    // issued: a void waits for finance, and a person gone is no second.
    if state
        .store
        .user_of_staff(w.supervisor.as_str())
        .await?
        .is_none()
    {
        return Ok(said(
            json!({ "refused": "the supervisor is not an enabled user" }),
        ));
    }
    let sale = rsu::sale_id(rsu, w.seq.0);
    let voided = {
        let ledger = state.sequencer.ledger();
        match ledger.raffle(&w.raffle).and_then(|r| r.sale(sale.as_str())) {
            Some(s) if s.rsu.as_ref() == Some(rsu) => s.voided,
            _ => {
                return Ok(said(
                    json!({ "refused": "the unit has no such sale in the log" }),
                ));
            }
        }
    };
    if voided {
        return Ok(said(json!({ "voided": true })));
    }
    if let Some(id) = state.store.pending_void(sale.as_str()).await? {
        return Ok(said(json!({ "approval_id": id })));
    }
    let Some(user) = state.store.user_of_staff(w.operator.as_str()).await? else {
        return Ok(said(
            json!({ "refused": "the operator is not an enabled user" }),
        ));
    };
    let id = request_approval_as(
        state,
        &user,
        w.operator.as_str(),
        "void",
        json!({
            "raffle": w.raffle, "sale": sale, "reason": w.reason, "refund": true,
            "rsu": rsu, "seq": w.seq, "supervisor": w.supervisor,
        }),
    )
    .await?;
    Ok(said(json!({ "approval_id": id })))
}

/// What the answer says of a change the sequencer did not take: refused
/// for good, or to send again (the log or its store is unavailable).
fn unsettled(e: &Error) -> Value {
    match e {
        Error::Unavailable(why) | Error::Storage(why) => json!({ "retry": why }),
        Error::Refused(r) => json!({ "refused": e.to_string(), "code": r.code() }),
        e => json!({ "refused": e.to_string() }),
    }
}

/// Records a sync's revalidation, and disables the unit once too many
/// signed syncs failed a check with none between that got anything
/// logged (GLI-31 5.4.2): an empty sync revalidates, but does not wipe
/// the failures before it.
async fn revalidation(
    state: &AppState,
    rsu: &RsuId,
    passed: bool,
    progressed: bool,
) -> Result<(), AppError> {
    let failures = state
        .store
        .device_revalidation(rsu, passed, progressed)
        .await?;
    let limit = state.config.units.revalidation_failures.max(1);
    if passed || failures < limit {
        return Ok(());
    }
    let enabled = state
        .sequencer
        .ledger()
        .device(rsu)
        .is_some_and(|d| d.enabled);
    if !enabled {
        return Ok(());
    }
    let disabled = state
        .sequencer
        .submit(Change::DisableRsu {
            rsu: rsu.clone(),
            reason: DisableReason::RevalidationFailed,
            by: None,
        })
        .await;
    match disabled {
        Ok(s) => {
            state
                .store
                .record_event(
                    "rsu",
                    "disabled_after_failed_revalidations",
                    &json!({ "rsu": rsu, "failures": failures, "index": s.index }),
                    None,
                )
                .await?;
        }
        Err(e) => {
            tracing::warn!(rsu = %rsu, error = %e, "disabling a unit that failed its revalidations")
        }
    }
    Ok(())
}

/// The operator list the answer carries (GLI-31 3.2.2, 6.1.2): the
/// operators who may sign in on the unit, with their PIN hashes, valid
/// until the unit must revalidate; recorded, so that its records can be
/// checked against it. A disabled unit gets an empty list.
async fn operator_list(state: &AppState, rsu: &RsuId) -> Result<Value, AppError> {
    let enabled = state
        .sequencer
        .ledger()
        .device(rsu)
        .is_some_and(|d| d.enabled);
    let operators = if enabled {
        state.store.device_operators().await?
    } else {
        Vec::new()
    };
    let issued = time::OffsetDateTime::now_utc();
    let expires = issued + state.config.units.revalidation();
    let ids: Vec<String> = operators.iter().map(|o| o.staff_id.clone()).collect();
    state
        .store
        .issue_operator_list(rsu, &ids, issued, expires)
        .await?;
    Ok(json!({
        "issued": Timestamp::from_datetime(issued),
        "expires": Timestamp::from_datetime(expires),
        "list": operators
            .iter()
            .map(|o| json!({ "staff_id": o.staff_id, "pin_hash": o.pin_hash }))
            .collect::<Vec<_>>(),
    }))
}

/// The changes a sync request makes, in order, and how many of its
/// records the log holds already; `None` when the head the unit presents
/// contradicts its history (a device fault).
#[allow(clippy::too_many_arguments)]
fn plan(
    state: &AppState,
    origin: &str,
    key: &[u8; 32],
    rsu: &RsuId,
    head: Head,
    req: &SyncRequest,
    received: Timestamp,
    lists: &[OperatorList],
) -> Option<(Vec<Change>, u64)> {
    let ledger = state.sequencer.ledger();
    let device = ledger.device(rsu)?;
    if !device.accepts_head(head) {
        return None;
    }
    let mut changes = Vec::new();
    if head != device.seen {
        changes.push(Change::RsuSeen {
            rsu: rsu.clone(),
            seq: head.seq,
            hash: head.hash,
        });
    }
    // The records to submit: those not in the log yet, up to and
    // including the first that cannot chain (it is logged as refused;
    // what follows it could not chain either).
    let mut skipped = 0u64;
    let mut at = device.head;
    for r in &req.records {
        let hash = rsu::record_hash(origin, r);
        if r.seq.0 <= device.head.seq && device.hash_at(r.seq.0) == Some(hash) {
            skipped += 1;
            continue;
        }
        let chains = r.seq.0 == at.seq + 1
            && r.prev.0 == at.hash
            && rsu::verify(key, &rsu::sale_message(origin, r), &r.signature.0);
        if chains || !ledger.rsu_already_refused(r) {
            let skew = time::Duration::microseconds(rsu::MAX_CLOCK_SKEW_MICROS);
            let operator_listed = r.device_time.to_offset_datetime().is_ok_and(|at| {
                lists
                    .iter()
                    .any(|l| l.admits(r.operator.as_str(), at, skew))
            });
            changes.push(Change::RsuRecord {
                record: Box::new(r.clone()),
                received,
                operator_listed,
            });
        }
        if !chains {
            break;
        }
        at = Head { seq: r.seq.0, hash };
    }
    for s in &req.seals {
        changes.push(Change::SealRsu {
            seal: RsuSealed {
                raffle: s.raffle.clone(),
                draw: s.draw.clone(),
                rsu: rsu.clone(),
                seq: s.seq,
                hash: s.hash,
                device_time: s.device_time,
                signature: s.signature.clone(),
            },
        });
    }
    Some((changes, skipped))
}

/// Releases a unit's unsold numbers of every raffle it sealed the last
/// draw of and uploaded up to the seal (GLI-31 2.6.2).
async fn release_unsold(state: &AppState, rsu: &RsuId) {
    let due: Vec<RaffleId> = {
        let ledger = state.sequencer.ledger();
        let Some(d) = ledger.device(rsu) else { return };
        d.raffles
            .iter()
            .filter(|(raffle, dr)| {
                !dr.released
                    && ledger
                        .raffle(raffle)
                        .and_then(|r| r.config.draws.last())
                        .and_then(|last| dr.seals.get(&last.id))
                        .is_some_and(|seal| d.head.seq >= seal.seq)
            })
            .map(|(raffle, _)| raffle.clone())
            .collect()
    };
    for raffle in due {
        if let Err(e) = state
            .sequencer
            .submit(Change::ReleaseRsu {
                raffle,
                rsu: rsu.clone(),
            })
            .await
        {
            tracing::warn!(rsu = %rsu, error = %e, "releasing a unit's unsold numbers");
        }
    }
}

/// The unit's state as the answer tells it: its status, head, and per
/// raffle its ranges, next number, seals and whether it released them.
fn answer_body(
    state: &AppState,
    rsu: &RsuId,
    nonce: &str,
    skipped: u64,
    sequenced: u64,
    rejected: Vec<Value>,
    sealed: Vec<Value>,
) -> Value {
    let ledger = state.sequencer.ledger();
    let d = ledger.device(rsu).expect("enrolled");
    let mut raffles: Vec<Value> = d
        .raffles
        .iter()
        .map(|(raffle, dr)| {
            let mut seals: Vec<&str> = dr.seals.keys().map(|k| k.as_str()).collect();
            seals.sort_unstable();
            json!({
                "raffle": raffle,
                "ranges": dr.ranges.iter().map(|(f, c)| json!({ "first": f.to_string(), "count": c.to_string() })).collect::<Vec<_>>(),
                "next_number": dr.cursor.to_string(),
                "sealed": seals,
                "released": dr.released,
                "details": ledger.raffle(raffle.as_str()).map(raffle_details),
            })
        })
        .collect();
    raffles.sort_by(|a, b| a["raffle"].as_str().cmp(&b["raffle"].as_str()));
    json!({
        "rsu": rsu,
        "nonce": nonce,
        "time": Timestamp::now(),
        "status": if d.enabled { "enabled" } else { "disabled" },
        "head": { "seq": d.head.seq.to_string(), "hash": hex::encode(d.head.hash) },
        "skipped": skipped,
        "sequenced": sequenced,
        "rejected": rejected,
        "seals": sealed,
        "raffles": raffles,
    })
}

/// What a unit needs of a raffle to sell it and print its tickets (all
/// public: the log's `raffle.created` holds it).
fn raffle_details(r: &raffle_core::ledger::RaffleState) -> Value {
    let c = &r.config;
    json!({
        "name": c.name,
        "organisation": c.organisation,
        "licence": c.licence,
        "time_zone": c.time_zone,
        "open": r.status == raffle_core::ledger::Status::Open,
        "sales_start": c.sales_start,
        "sales_end": c.sales_end,
        "packages": c.packages,
        "draws": c.draws.iter().map(|d| json!({ "id": d.id, "name": d.name, "cutoff": d.cutoff })).collect::<Vec<_>>(),
    })
}

/// A unit to register: its id, model, operator and public key (read from
/// the unit's screen at enrolment).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    #[schemars(with = "String")]
    pub id: RsuId,
    pub model: String,
    pub operator: String,
    /// Its Ed25519 public key, 64 hex digits.
    #[schemars(with = "String")]
    pub key: Digest32,
}

fn check_label(what: &str, s: &str) -> Result<(), AppError> {
    if s.trim().is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what}: 1 to 100 characters, no control characters"
        )));
    }
    Ok(())
}

/// Adds a unit to the master list, unenrolled and disabled (GLI-31 6.1.3).
pub async fn register(state: &AppState, staff: &Staff, d: &NewDevice) -> Result<Value, AppError> {
    check_label("model", &d.model)?;
    check_label("operator", &d.operator)?;
    rsu::check_key(&d.key.0)?;
    if !state
        .store
        .register_device(&d.id, &d.model, &d.operator, &d.key.0, &staff.user.id)
        .await?
    {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "a unit with that id or key is registered already",
        ));
    }
    state
        .store
        .record_event(
            "rsu",
            "registered",
            &json!({ "rsu": d.id, "model": d.model, "operator": d.operator }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(json!({ "id": d.id, "status": "unenrolled" }))
}

/// Asks a second administrator to enrol and enable a registered unit.
pub async fn request_enrolment(
    state: &AppState,
    staff: &Staff,
    rsu: &RsuId,
) -> Result<ApprovalId, AppError> {
    let row = state
        .store
        .device(rsu)
        .await?
        .ok_or_else(|| AppError::not_found("no registered unit of that id"))?;
    if state.sequencer.ledger().device(rsu).is_some() {
        return Err(AppError::refused(Refusal::RsuExists {
            rsu: rsu.to_string(),
        }));
    }
    request_approval(
        state,
        staff,
        "rsu_enrol",
        json!({ "rsu": rsu, "key": hex::encode(row.public_key) }),
    )
    .await
}

/// Asks a second administrator to enable a disabled unit again.
pub async fn request_enable(
    state: &AppState,
    staff: &Staff,
    rsu: &RsuId,
) -> Result<ApprovalId, AppError> {
    let enabled = state
        .sequencer
        .ledger()
        .device(rsu)
        .map(|d| d.enabled)
        .ok_or_else(|| AppError::not_found("no enrolled unit of that id"))?;
    if enabled {
        return Err(AppError::refused(Refusal::RsuStatusUnchanged {
            rsu: rsu.to_string(),
            status: "enabled".into(),
        }));
    }
    request_approval(state, staff, "rsu_enable", json!({ "rsu": rsu })).await
}

/// Disables a unit at once (one person: disabling is always safe).
pub async fn disable(state: &AppState, staff: &Staff, rsu: &RsuId) -> Result<Sequenced, AppError> {
    let s = state
        .sequencer
        .submit(Change::DisableRsu {
            rsu: rsu.clone(),
            reason: DisableReason::Remote,
            by: Some(staff.user.staff_id.clone()),
        })
        .await?;
    // GLI-31 5.4.2: a significant event, as enrolment's approval is.
    state
        .store
        .record_event(
            "rsu",
            "disabled",
            &json!({ "rsu": rsu, "index": s.index }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(s)
}

/// Allocates the raffle's next `count` numbers to a unit.
pub async fn allocate(
    state: &AppState,
    staff: &Staff,
    raffle: &RaffleId,
    rsu: &RsuId,
    count: u64,
) -> Result<Sequenced, AppError> {
    if count == 0 || count > MAX_ALLOCATION {
        return Err(bad(format!("count: 1 to {MAX_ALLOCATION}")));
    }
    Ok(state
        .sequencer
        .submit(Change::AllocateRsu {
            raffle: raffle.clone(),
            rsu: rsu.clone(),
            count,
            by: staff.user.staff_id.clone(),
        })
        .await?)
}

/// Asks a second person (one of the raffle's approvers) to declare a unit
/// unreconcilable for a draw.
pub async fn request_unreconcilable(
    state: &AppState,
    staff: &Staff,
    raffle: &RaffleId,
    draw: &DrawId,
    rsu: &RsuId,
    reason: UnreconcilableReason,
) -> Result<ApprovalId, AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        r.draw_config(draw)?;
        if !ledger.rsu_waiting(raffle, draw).contains(rsu) {
            return Err(AppError::refused(Refusal::RsuAlreadyReconcilable {
                rsu: rsu.to_string(),
                draw: draw.to_string(),
            }));
        }
    }
    request_approval(
        state,
        staff,
        "rsu_unreconcilable",
        json!({ "raffle": raffle, "draw": draw, "rsu": rsu, "reason": reason }),
    )
    .await
}

/// The change an approved request of this module makes.
pub fn approved_change(
    kind: &str,
    payload: &Value,
    requested_by: StaffId,
    approved_by: StaffId,
) -> Result<Option<Change>, AppError> {
    let field = |k: &str| -> Result<&str, AppError> {
        payload[k]
            .as_str()
            .ok_or_else(|| bad(format!("the request has no {k}")))
    };
    Ok(Some(match kind {
        "rsu_enrol" => {
            let key: [u8; 32] = hex::decode(field("key")?)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| bad("the request's key is not 32 bytes of hex"))?;
            Change::EnrolRsu {
                rsu: RsuId::parse(field("rsu")?)?,
                key,
                requested_by,
                approved_by,
            }
        }
        "rsu_enable" => Change::EnableRsu {
            rsu: RsuId::parse(field("rsu")?)?,
            requested_by,
            approved_by,
        },
        "rsu_unreconcilable" => Change::RsuUnreconcilable {
            raffle: RaffleId::parse(field("raffle")?)?,
            draw: DrawId::parse(field("draw")?)?,
            rsu: RsuId::parse(field("rsu")?)?,
            reason: serde_json::from_value(payload["reason"].clone())
                .map_err(|e| bad(e.to_string()))?,
            requested_by,
            approved_by,
        },
        _ => return Ok(None),
    }))
}

/// The master list (GLI-31 5.4.1): every registered unit, its status in
/// the log, its head, software and last contact.
pub async fn master_list(state: &AppState) -> Result<Value, AppError> {
    let rows = state.store.devices().await?;
    let every = state.config.units.revalidation();
    let now = time::OffsetDateTime::now_utc();
    let ledger = state.sequencer.ledger();
    let devices: Vec<Value> = rows
        .iter()
        .map(|row| {
            let d = ledger.device(&row.id);
            let status = match d {
                None => "unenrolled",
                Some(d) if d.enabled => "enabled",
                Some(_) => "disabled",
            };
            let tickets: u64 = d.map_or(0, |d| d.raffles.values().map(|r| r.sold_numbers).sum());
            json!({
                "id": row.id,
                "model": row.model,
                "operator": row.operator,
                "key": hex::encode(row.public_key),
                "status": status,
                "software_version": row.software_version,
                "last_contact": row.last_contact.map(Timestamp::from_datetime),
                // GLI-31 5.4.2: revalidated at the configured interval.
                "revalidated_at": row.revalidated_at.map(Timestamp::from_datetime),
                "revalidation_overdue": d.is_some_and(|d| d.enabled)
                    && row.revalidated_at.is_none_or(|t| t + every < now),
                "failed_revalidations": row.failed_revalidations,
                "head": d.map(|d| d.head.seq.to_string()),
                "tickets_issued": tickets.to_string(),
                "rejected": d.map_or(0, |d| d.rejected.len()),
            })
        })
        .collect();
    Ok(json!({ "devices": devices }))
}

/// A unit's cash for reconciliation (GLI-31 2.8.1 d): its cash sales not
/// voided, the float and drops counted, the drop expected (float plus
/// sales) and the difference (drop minus expected: negative is short).
fn cash_figures(sales: u64, (float, drop): (i64, i64), currency: raffle_core::Currency) -> Value {
    let sales = i64::try_from(sales).unwrap_or(i64::MAX);
    let expected = float.saturating_add(sales);
    json!({
        "currency": currency.as_str(),
        "sales_minor": sales,
        "float_minor": float,
        "drop_minor": drop,
        "expected_drop_minor": expected,
        "difference_minor": drop.saturating_sub(expected),
    })
}

/// Most a single cash count may be, in minor units (a billion of the
/// currency's units: no venue holds more, and sums stay far from
/// overflow).
pub const MAX_CASH_MINOR: i64 = 100_000_000_000;

/// Records a count of a unit's cash for a raffle (finance): the `float`
/// handed to its sellers or a `drop` they handed in, in minor units; a
/// negative amount corrects an earlier count. A significant event.
pub async fn record_cash(
    state: &AppState,
    staff: &Staff,
    raffle: &RaffleId,
    rsu: &RsuId,
    kind: CashKind,
    minor: i64,
    note: Option<&str>,
) -> Result<(), AppError> {
    if minor == 0 || minor.abs() > MAX_CASH_MINOR {
        return Err(bad(format!(
            "amount: a nonzero number of minor units, at most {MAX_CASH_MINOR} either way"
        )));
    }
    if let Some(n) = note {
        check_label("note", n)?;
    }
    let currency = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        if !ledger
            .device(rsu)
            .is_some_and(|d| d.raffles.contains_key(raffle))
        {
            return Err(AppError::refused(Refusal::RsuUnknown {
                rsu: rsu.to_string(),
            }));
        }
        r.gross.currency
    };
    state
        .store
        .record_unit_cash(
            raffle,
            rsu,
            kind.as_str(),
            minor,
            currency.as_str(),
            note,
            &staff.user.id,
        )
        .await?;
    state
        .store
        .record_event(
            "rsu",
            "cash_recorded",
            &json!({ "raffle": raffle, "rsu": rsu, "kind": kind.as_str(), "minor": minor, "currency": currency.as_str() }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(())
}

/// What a cash count is.
#[derive(Clone, Copy, Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CashKind {
    /// Cash handed to the unit's sellers to make change.
    Float,
    /// Cash the sellers handed in.
    Drop,
}

impl CashKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CashKind::Float => "float",
            CashKind::Drop => "drop",
        }
    }
}

/// A raffle's units: per unit its numbers, sales and money, its state for
/// each draw (sealed and uploaded, declared unreconcilable, or waiting),
/// and its refused records, listed for refund.
pub async fn raffle_units(state: &AppState, raffle: &RaffleId) -> Result<Value, AppError> {
    let counted: std::collections::HashMap<String, (i64, i64)> = state
        .store
        .unit_cash(raffle)
        .await?
        .into_iter()
        .map(|(unit, float, drop)| (unit, (float, drop)))
        .collect();
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(raffle)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    // Cash sales not voided, per unit (what its sellers should hand in
    // beyond the float).
    let mut cash_sales: std::collections::HashMap<&str, u64> = Default::default();
    for sale in r.sales().filter(|x| x.cash && !x.voided) {
        if let Some(unit) = &sale.rsu {
            let sum = cash_sales.entry(unit.as_str()).or_default();
            *sum = sum.saturating_add(sale.price.minor);
        }
    }
    let mut units: Vec<Value> = ledger
        .devices()
        .filter_map(|(id, d)| d.raffles.get(raffle).map(|dr| (id, d, dr)))
        .map(|(id, d, dr)| {
            let draws: Vec<Value> = r
                .config
                .draws
                .iter()
                .map(|draw| {
                    let status = if dr.unreconcilable.contains_key(&draw.id) {
                        "unreconcilable"
                    } else if dr.settled_for(&draw.id, d.head) {
                        "uploaded"
                    } else if dr.seals.contains_key(&draw.id) {
                        "sealed"
                    } else {
                        "waiting"
                    };
                    json!({ "draw": draw.id, "status": status })
                })
                .collect();
            let refunds: Vec<Value> = d
                .rejected
                .iter()
                .filter(|x| &x.raffle == raffle)
                .filter(|x| x.reason.chained() || x.owes_refund(d))
                .map(|x| json!({ "seq": x.seq.to_string(), "reason": x.reason, "price": x.price, "index": x.index.to_string() }))
                .collect();
            json!({
                "rsu": id,
                "allocated": dr.allocated.to_string(),
                "sold_numbers": dr.sold_numbers.to_string(),
                "sales": dr.sales.len().to_string(),
                "gross": raffle_core::Money::new(dr.gross, r.gross.currency),
                "released": dr.released,
                "reprints": dr.reprints.to_string(),
                "cash": cash_figures(
                    cash_sales.get(id.as_str()).copied().unwrap_or(0),
                    counted.get(id.as_str()).copied().unwrap_or((0, 0)),
                    r.gross.currency,
                ),
                "draws": draws,
                "refused": refunds,
            })
        })
        .collect();
    units.sort_by(|a, b| a["rsu"].as_str().cmp(&b["rsu"].as_str()));
    Ok(json!({ "raffle": raffle, "units": units }))
}
