//! The fake's objects and how they move: sessions, PaymentIntents,
//! charges, refunds, disputes, balance transactions and payouts. Every
//! change that Stripe would announce emits its event.

use crate::{ApiError, Inner, Params};
use serde_json::{Value, json};

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `n` random characters from Stripe's id alphabet.
pub(crate) fn random_id(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn livemode(inner: &Inner) -> bool {
    inner.options.secret_key.starts_with("sk_live_")
}

fn id(inner: &Inner, prefix: &str) -> String {
    // Checkout session ids carry the mode, as Stripe's do.
    if prefix == "cs" {
        let mode = if livemode(inner) { "live" } else { "test" };
        return format!("cs_{mode}_{}", random_id(58));
    }
    format!("{prefix}_{}", random_id(24))
}

pub(crate) fn account(inner: &Inner) -> Value {
    json!({
        "id": inner.options.account,
        "object": "account",
        "business_type": "non_profit",
        "charges_enabled": true,
        "payouts_enabled": true,
        "country": "CA",
        "default_currency": "cad",
        "type": "standard",
    })
}

pub(crate) fn list(url: &str, data: Vec<Value>) -> Value {
    json!({ "object": "list", "url": url, "has_more": false, "data": data })
}

fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, ApiError> {
    p.get(key)
        .map(String::as_str)
        .ok_or_else(|| ApiError::invalid(format!("Missing required param: {key}.")))
}

fn metadata(p: &Params, prefix: &str) -> serde_json::Map<String, Value> {
    p.iter()
        .filter_map(|(k, v)| {
            let name = k
                .strip_prefix(prefix)?
                .strip_prefix('[')?
                .strip_suffix(']')?;
            Some((name.to_string(), json!(v)))
        })
        .collect()
}

/// `POST /v1/checkout/sessions`: mode `payment`, one line item with
/// `price_data`, cards only, manual capture.
pub(crate) fn create_session(inner: &Inner, p: &Params) -> Result<Value, ApiError> {
    if required(p, "mode")? != "payment" {
        return Err(ApiError::invalid("the fake supports mode=payment only"));
    }
    let currency = required(p, "line_items[0][price_data][currency]")?.to_ascii_lowercase();
    let unit: i64 = required(p, "line_items[0][price_data][unit_amount]")?
        .parse()
        .map_err(|_| ApiError::invalid("Invalid integer: unit_amount"))?;
    let quantity: i64 = p
        .get("line_items[0][quantity]")
        .map(|q| q.parse())
        .transpose()
        .map_err(|_| ApiError::invalid("Invalid integer: quantity"))?
        .unwrap_or(1);
    let name = required(p, "line_items[0][price_data][product_data][name]")?;
    if p.keys().any(|k| k.starts_with("line_items[1]")) {
        return Err(ApiError::invalid("the fake supports one line item"));
    }
    let success_url = required(p, "success_url")?;
    let created = now();
    let expires_at = match p.get("expires_at") {
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("Invalid integer: expires_at"))?,
        None => created + 24 * 3600,
    };
    // Stripe's bounds: 30 minutes to 24 hours from now.
    if expires_at < created + 30 * 60 - 5 || expires_at > created + 24 * 3600 {
        return Err(ApiError::invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
        ));
    }
    let amount = unit
        .checked_mul(quantity)
        .filter(|a| *a > 0)
        .ok_or_else(|| ApiError::invalid("Invalid amount"))?;
    let capture = p
        .get("payment_intent_data[capture_method]")
        .cloned()
        .unwrap_or_else(|| "automatic_async".into());
    let types: Vec<String> = p
        .iter()
        .filter(|(k, _)| {
            k.starts_with("payment_method_types[") || k.starts_with("allowed_payment_method_types[")
        })
        .map(|(_, v)| v.clone())
        .collect();
    let session_id = id(inner, "cs");
    let session = json!({
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": { "enabled": p.get("adaptive_pricing[enabled]").map(|v| v == "true").unwrap_or(true) },
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": { "enabled": false, "liability": null, "status": null },
        "cancel_url": p.get("cancel_url"),
        "client_reference_id": p.get("client_reference_id"),
        "created": created,
        "currency": currency,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": null,
        "customer_details": null,
        "customer_email": p.get("customer_email"),
        "expires_at": expires_at,
        "livemode": livemode(inner),
        "locale": p.get("locale"),
        "metadata": metadata(p, "metadata"),
        "mode": "payment",
        "payment_intent": null,
        "payment_method_types": if types.is_empty() { vec!["card".to_string()] } else { types },
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "success_url": success_url,
        "url": format!("{}/pay/{session_id}", inner.url),
        // What the fake needs later, beside Stripe's fields (Stripe keeps
        // these on the session too, though its API does not show them).
        "_fake": {
            "name": name,
            "quantity": quantity,
            "capture_method": capture,
            "intent_metadata": metadata(p, "payment_intent_data[metadata]"),
        },
    });
    let mut l = inner.state.lock().unwrap();
    l.sessions.insert(session_id.clone(), session);
    Ok(public(&l.sessions[&session_id]))
}

/// An object as the API shows it (without the fake's own notes).
pub(crate) fn public(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("_fake");
    }
    v
}

/// What the hosted page does when the buyer submits a card.
pub(crate) fn pay(inner: &Inner, session_id: &str, card: &str) -> Result<String, ApiError> {
    let card: String = card.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut events = Vec::new();
    let result = {
        let mut l = inner.state.lock().unwrap();
        let Some(session) = l.sessions.get(session_id).cloned() else {
            return Err(ApiError::missing("checkout.session", session_id));
        };
        if session["status"] != "open" {
            return Err(ApiError::state(
                "checkout_session_not_open",
                format!(
                    "This Checkout Session is {}.",
                    session["status"].as_str().unwrap_or("")
                ),
            ));
        }
        if session["expires_at"].as_i64().unwrap_or(0) <= now() {
            return Err(ApiError::state(
                "checkout_session_expired",
                "This Checkout Session has expired.",
            ));
        }
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let currency = session["currency"].as_str().unwrap_or("").to_string();
        let manual = session["_fake"]["capture_method"] == "manual";
        // The PaymentIntent is made when the buyer pays (or reused after a decline).
        let pi_id = match session["payment_intent"].as_str() {
            Some(pi) => pi.to_string(),
            None => {
                let pi_id = id(inner, "pi");
                let intent = json!({
                    "id": pi_id,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_capturable": 0,
                    "amount_received": 0,
                    "capture_method": if manual { "manual" } else { "automatic_async" },
                    "confirmation_method": "automatic",
                    "created": now(),
                    "currency": currency,
                    "latest_charge": null,
                    "livemode": livemode(inner),
                    "metadata": session["_fake"]["intent_metadata"],
                    "payment_method_types": ["card"],
                    "status": "requires_payment_method",
                    "last_payment_error": null,
                });
                l.intents.insert(pi_id.clone(), intent);
                l.sessions.get_mut(session_id).unwrap()["payment_intent"] = json!(pi_id);
                pi_id
            }
        };
        if card == crate::CARD_DECLINED || card != crate::CARD_OK {
            let intent = l.intents.get_mut(&pi_id).unwrap();
            intent["last_payment_error"] = json!({ "type": "card_error", "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined." });
            events.push(("payment_intent.payment_failed", public(intent)));
            Err(ApiError::state("card_declined", "Your card was declined."))
        } else {
            let ch_id = id(inner, "ch");
            let charge = json!({
                "id": ch_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": if manual { 0 } else { amount },
                "amount_refunded": 0,
                "balance_transaction": null,
                "billing_details": { "address": null, "email": null, "name": null, "phone": null },
                "captured": !manual,
                "created": now(),
                "currency": currency,
                "disputed": false,
                "livemode": livemode(inner),
                "metadata": {},
                "paid": true,
                "payment_intent": pi_id,
                "refunded": false,
                "status": "succeeded",
            });
            l.charges.insert(ch_id.clone(), charge);
            let intent = l.intents.get_mut(&pi_id).unwrap();
            intent["latest_charge"] = json!(ch_id);
            intent["last_payment_error"] = Value::Null;
            if manual {
                intent["status"] = json!("requires_capture");
                intent["amount_capturable"] = json!(amount);
            } else {
                intent["status"] = json!("succeeded");
                intent["amount_received"] = json!(amount);
            }
            let intent = public(intent);
            let s = l.sessions.get_mut(session_id).unwrap();
            s["status"] = json!("complete");
            s["payment_status"] = json!(if manual { "unpaid" } else { "paid" });
            s["customer_details"] = json!({ "email": s["customer_email"], "name": "Test Buyer", "address": { "country": "CA", "postal_code": "T5J 0N3" } });
            let session = public(s);
            let success = session["success_url"].as_str().unwrap_or("").to_string();
            events.push(("checkout.session.completed", session));
            if manual {
                events.push(("payment_intent.amount_capturable_updated", intent));
            } else {
                record_charge_balance(&mut l, &ch_id);
                let intent = public(&l.intents[&pi_id]);
                events.push(("payment_intent.succeeded", intent));
            }
            Ok(success)
        }
    };
    for (kind, object) in events {
        inner.deliveries.emit(inner, kind, object);
    }
    result
}

/// The fee Stripe would take on a card charge: 2.9% + 30.
pub(crate) fn fee(amount: i64) -> i64 {
    (amount * 29 + 500) / 1000 + 30
}

fn record_charge_balance(l: &mut crate::Ledger, charge: &str) {
    let c = &l.charges[charge];
    let amount = c["amount_captured"].as_i64().unwrap_or(0);
    let fee = fee(amount);
    let txn = json!({
        "id": format!("txn_{}", random_id(24)),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now() + 2 * 86400,
        "balance_type": "payments",
        "created": now(),
        "currency": c["currency"],
        "fee": fee,
        "fee_details": [{ "amount": fee, "currency": c["currency"], "description": "Stripe processing fees", "type": "stripe_fee" }],
        "net": amount - fee,
        "reporting_category": "charge",
        "source": charge,
        "status": "pending",
        "type": "charge",
        "payout": null,
    });
    let txn_id = txn["id"].clone();
    l.balance.push(txn);
    l.charges.get_mut(charge).unwrap()["balance_transaction"] = txn_id;
}

pub(crate) fn capture(inner: &Inner, pi_id: &str, p: &Params) -> Result<Value, ApiError> {
    let mut events = Vec::new();
    let result = {
        let mut l = inner.state.lock().unwrap();
        let Some(intent) = l.intents.get(pi_id).cloned() else {
            return Err(ApiError::missing("payment_intent", pi_id));
        };
        if intent["status"] != "requires_capture" {
            return Err(ApiError::state(
                "payment_intent_unexpected_state",
                format!(
                    "This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
                    intent["status"].as_str().unwrap_or("")
                ),
            ));
        }
        let capturable = intent["amount_capturable"].as_i64().unwrap_or(0);
        let amount = match p.get("amount_to_capture") {
            Some(a) => a
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("Invalid integer: amount_to_capture"))?,
            None => capturable,
        };
        if amount > capturable || amount <= 0 {
            return Err(ApiError::invalid(
                "amount_to_capture is greater than the amount capturable",
            ));
        }
        let charge = intent["latest_charge"].as_str().unwrap_or("").to_string();
        // Named by the PaymentIntent, or by the session that made it.
        let session = l
            .sessions
            .values()
            .find(|s| s["payment_intent"].as_str() == Some(pi_id))
            .and_then(|s| s["id"].as_str())
            .map(str::to_string);
        let failing = l.failing_captures.remove(pi_id)
            | session.is_some_and(|s| l.failing_captures.remove(&s));
        if failing {
            // The authorisation expired: Stripe cancels the PaymentIntent.
            let i = l.intents.get_mut(pi_id).unwrap();
            i["status"] = json!("canceled");
            i["amount_capturable"] = json!(0);
            i["cancellation_reason"] = json!("expired");
            events.push(("payment_intent.canceled", public(i)));
            Err(ApiError::state(
                "charge_expired_for_capture",
                "The charge cannot be captured as the authorization has expired.",
            ))
        } else {
            if let Some(c) = l.charges.get_mut(&charge) {
                c["captured"] = json!(true);
                c["amount_captured"] = json!(amount);
            }
            record_charge_balance(&mut l, &charge);
            let i = l.intents.get_mut(pi_id).unwrap();
            i["status"] = json!("succeeded");
            i["amount_capturable"] = json!(0);
            i["amount_received"] = json!(amount);
            let v = public(i);
            events.push(("payment_intent.succeeded", v.clone()));
            // The session now counts as paid.
            for s in l.sessions.values_mut() {
                if s["payment_intent"].as_str() == Some(pi_id) {
                    s["payment_status"] = json!("paid");
                }
            }
            Ok(v)
        }
    };
    for (kind, object) in events {
        inner.deliveries.emit(inner, kind, object);
    }
    result
}

pub(crate) fn cancel(inner: &Inner, pi_id: &str) -> Result<Value, ApiError> {
    let v = {
        let mut l = inner.state.lock().unwrap();
        let Some(intent) = l.intents.get_mut(pi_id) else {
            return Err(ApiError::missing("payment_intent", pi_id));
        };
        let status = intent["status"].as_str().unwrap_or("").to_string();
        if status == "succeeded" || status == "canceled" {
            return Err(ApiError::state(
                "payment_intent_unexpected_state",
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {status}."
                ),
            ));
        }
        intent["status"] = json!("canceled");
        intent["amount_capturable"] = json!(0);
        intent["cancellation_reason"] = json!("requested_by_customer");
        public(intent)
    };
    inner
        .deliveries
        .emit(inner, "payment_intent.canceled", v.clone());
    Ok(v)
}

pub(crate) fn expire_session(inner: &Inner, id: &str) -> Result<Value, ApiError> {
    let v = {
        let mut l = inner.state.lock().unwrap();
        let Some(s) = l.sessions.get_mut(id) else {
            return Err(ApiError::missing("checkout.session", id));
        };
        if s["status"] != "open" {
            return Err(ApiError::state(
                "checkout_session_not_open",
                format!(
                    "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                    s["status"].as_str().unwrap_or("")
                ),
            ));
        }
        s["status"] = json!("expired");
        public(s)
    };
    inner
        .deliveries
        .emit(inner, "checkout.session.expired", v.clone());
    Ok(v)
}

pub(crate) fn expire_due(inner: &Inner, now: i64) {
    let due: Vec<String> = {
        let l = inner.state.lock().unwrap();
        l.sessions
            .values()
            .filter(|s| s["status"] == "open" && s["expires_at"].as_i64().unwrap_or(0) <= now)
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect()
    };
    for id in due {
        let _ = expire_session(inner, &id);
    }
}

/// A refund of a captured PaymentIntent (all of what is left, or `amount`).
pub(crate) fn refund(
    inner: &Inner,
    pi_id: &str,
    amount: Option<i64>,
    p: &Params,
) -> Result<String, ApiError> {
    let (re_id, charge) = {
        let mut l = inner.state.lock().unwrap();
        let Some(intent) = l.intents.get(pi_id).cloned() else {
            return Err(ApiError::missing("payment_intent", pi_id));
        };
        if intent["status"] != "succeeded" {
            return Err(ApiError::state(
                "charge_not_refundable",
                "This PaymentIntent does not have a successful charge to refund.",
            ));
        }
        let ch = intent["latest_charge"].as_str().unwrap_or("").to_string();
        let c = l.charges[&ch].clone();
        let left =
            c["amount_captured"].as_i64().unwrap_or(0) - c["amount_refunded"].as_i64().unwrap_or(0);
        let amount = amount.unwrap_or(left);
        if amount <= 0 || amount > left {
            return Err(ApiError::state(
                "charge_already_refunded",
                format!("Charge {ch} has already been refunded."),
            ));
        }
        let re_id = id(inner, "re");
        let txn_id = format!("txn_{}", random_id(24));
        l.balance.push(json!({
            "id": txn_id,
            "object": "balance_transaction",
            "amount": -amount,
            "available_on": now(),
            "balance_type": "payments",
            "created": now(),
            "currency": c["currency"],
            "fee": 0,
            "fee_details": [],
            "net": -amount,
            "reporting_category": "refund",
            "source": re_id,
            "status": "available",
            "type": "refund",
            "payout": null,
        }));
        l.refunds.insert(
            re_id.clone(),
            json!({
                "id": re_id,
                "object": "refund",
                "amount": amount,
                "balance_transaction": txn_id,
                "charge": ch,
                "created": now(),
                "currency": c["currency"],
                "metadata": metadata(p, "metadata"),
                "payment_intent": pi_id,
                "reason": p.get("reason"),
                "status": "succeeded",
            }),
        );
        let c = l.charges.get_mut(&ch).unwrap();
        let refunded = c["amount_refunded"].as_i64().unwrap_or(0) + amount;
        c["amount_refunded"] = json!(refunded);
        c["refunded"] = json!(refunded == c["amount_captured"].as_i64().unwrap_or(0));
        (re_id, public(c))
    };
    inner.deliveries.emit(inner, "charge.refunded", charge);
    Ok(re_id)
}

pub(crate) fn open_dispute(inner: &Inner, pi_id: &str) -> Result<String, ApiError> {
    let dispute = {
        let mut l = inner.state.lock().unwrap();
        let Some(intent) = l.intents.get(pi_id).cloned() else {
            return Err(ApiError::missing("payment_intent", pi_id));
        };
        if intent["status"] != "succeeded" {
            return Err(ApiError::state(
                "charge_not_disputable",
                "Only a captured payment can be disputed.",
            ));
        }
        let ch = intent["latest_charge"].as_str().unwrap_or("").to_string();
        let amount = l.charges[&ch]["amount_captured"].as_i64().unwrap_or(0);
        let currency = l.charges[&ch]["currency"].clone();
        let du_id = id(inner, "du");
        let txn_id = format!("txn_{}", random_id(24));
        // The disputed amount and a fee are withdrawn while it is open.
        l.balance.push(json!({
            "id": txn_id, "object": "balance_transaction", "amount": -amount, "available_on": now(),
            "balance_type": "payments", "created": now(), "currency": currency, "fee": 1500,
            "fee_details": [{ "amount": 1500, "currency": currency, "description": "Dispute fee", "type": "stripe_fee" }],
            "net": -amount - 1500, "reporting_category": "dispute", "source": du_id, "status": "available",
            "type": "adjustment", "payout": null,
        }));
        let d = json!({
            "id": du_id,
            "object": "dispute",
            "amount": amount,
            "balance_transactions": [txn_id],
            "charge": ch,
            "created": now(),
            "currency": currency,
            "livemode": livemode(inner),
            "metadata": {},
            "payment_intent": pi_id,
            "reason": "fraudulent",
            "status": "needs_response",
        });
        l.disputes.insert(du_id.clone(), d.clone());
        l.charges.get_mut(&ch).unwrap()["disputed"] = json!(true);
        d
    };
    let du = dispute["id"].as_str().unwrap_or("").to_string();
    inner
        .deliveries
        .emit(inner, "charge.dispute.created", dispute);
    Ok(du)
}

pub(crate) fn close_dispute(inner: &Inner, du_id: &str, won: bool) -> Result<(), ApiError> {
    let dispute = {
        let mut l = inner.state.lock().unwrap();
        let Some(d) = l.disputes.get(du_id).cloned() else {
            return Err(ApiError::missing("dispute", du_id));
        };
        if d["status"] == "won" || d["status"] == "lost" {
            return Err(ApiError::state("dispute_closed", "This dispute is closed."));
        }
        let amount = d["amount"].as_i64().unwrap_or(0);
        if won {
            let txn_id = format!("txn_{}", random_id(24));
            l.balance.push(json!({
                "id": txn_id, "object": "balance_transaction", "amount": amount, "available_on": now(),
                "balance_type": "payments", "created": now(), "currency": d["currency"], "fee": -1500,
                "fee_details": [], "net": amount + 1500, "reporting_category": "dispute_reversal",
                "source": du_id, "status": "available", "type": "adjustment", "payout": null,
            }));
        }
        let d = l.disputes.get_mut(du_id).unwrap();
        d["status"] = json!(if won { "won" } else { "lost" });
        d.clone()
    };
    inner
        .deliveries
        .emit(inner, "charge.dispute.closed", dispute);
    Ok(())
}

pub(crate) fn unknown_charge(inner: &Inner, amount: i64, currency: &str) -> String {
    let pi_id = id(inner, "pi");
    let ch_id = id(inner, "ch");
    let mut l = inner.state.lock().unwrap();
    l.charges.insert(
        ch_id.clone(),
        json!({
            "id": ch_id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "balance_transaction": null, "billing_details": { "address": null, "email": null, "name": null, "phone": null },
            "captured": true, "created": now(), "currency": currency, "disputed": false, "livemode": livemode(inner),
            "metadata": {}, "paid": true, "payment_intent": pi_id, "refunded": false, "status": "succeeded",
        }),
    );
    l.intents.insert(
        pi_id.clone(),
        json!({
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": amount,
            "capture_method": "automatic", "confirmation_method": "automatic", "created": now(), "currency": currency,
            "latest_charge": ch_id, "livemode": livemode(inner), "metadata": {}, "payment_method_types": ["card"],
            "status": "succeeded",
        }),
    );
    record_charge_balance(&mut l, &ch_id);
    let v = public(&l.intents[&pi_id]);
    drop(l);
    inner.deliveries.emit(inner, "payment_intent.succeeded", v);
    pi_id
}

pub(crate) fn payout(inner: &Inner) -> Option<String> {
    let mut l = inner.state.lock().unwrap();
    let po_id = format!("po_{}", random_id(24));
    let mut net = 0i64;
    let mut currency = Value::Null;
    for b in l.balance.iter_mut().filter(|b| b["payout"].is_null()) {
        net += b["net"].as_i64().unwrap_or(0);
        currency = b["currency"].clone();
        b["payout"] = json!(po_id);
        b["status"] = json!("available");
    }
    if currency.is_null() {
        return None;
    }
    // The payout itself is a balance transaction too (the net leaving the
    // balance for the bank), in the payout it makes.
    l.balance.push(json!({
        "id": format!("txn_{}", random_id(24)), "object": "balance_transaction", "amount": -net,
        "available_on": now(), "balance_type": "payments", "created": now(), "currency": currency,
        "fee": 0, "fee_details": [], "net": -net, "reporting_category": "payout", "source": po_id,
        "status": "available", "type": "payout", "payout": po_id,
    }));
    l.payouts.push(json!({
        "id": po_id, "object": "payout", "amount": net, "arrival_date": now() + 86400, "automatic": true,
        "created": now(), "currency": currency, "livemode": livemode(inner), "metadata": {}, "method": "standard",
        "reconciliation_status": "completed", "source_type": "card", "status": "paid", "type": "bank_account",
    }));
    Some(po_id)
}
