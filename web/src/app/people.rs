//! The account lifecycle (GLI-31 5.2.2, 5.2.4): creating users, changing
//! roles, resetting credentials, disabling and enabling, ending sessions,
//! changing a password, and the enrolment a new user goes through.
//!
//! Guarantees:
//! - Nobody but the user learns their password or TOTP secret. A user
//!   created (or reset) by an administrator gets a one-time enrolment code
//!   valid for 72 hours; with it they sign in once, set a password of their
//!   own, and confirm a TOTP secret shown only in that enrolment session.
//! - Once the organisation has two enabled administrators, creating a
//!   user, changing roles, resetting credentials and re-enabling a user
//!   answer 202 and wait for a second administrator; the enrolment code is
//!   shown to the approving administrator alone, never to the requester.
//!   So one administrator cannot mint a user whose sign-in they hold and
//!   approve their own voids, refunds or reconciliations through it.
//! - Disabling ends the user's sessions and takes effect at once (it only
//!   removes access), but for an administrator while there are two: that
//!   would leave one and lift the rule above. The last enabled
//!   administrator cannot be disabled or lose the role.
//! - Every change is a significant event (GLI-31 5.6.1) naming the user,
//!   never a code, password or secret.

use crate::AppState;
use crate::app::auth::{
    Staff, check_new_password, check_roles, hash_password_blocking, seal_totp, verify_password,
};
use crate::app::operations::{Decided, request_approval};
use crate::error::AppError;
use axum::http::StatusCode;
use raffle_core::ids::{ApprovalId, SessionId, UserId};
use raffle_core::store::people::{ENROL_HOURS, User};
use raffle_core::{Refusal, Role};
use serde_json::{Value, json};

/// What a request to change people did: done now (with what the caller is
/// told), or waiting for a second administrator.
pub enum Outcome {
    Done(Value),
    Pending(ApprovalId),
}

const CREATE: &str = "user_create";
const ROLES: &str = "user_roles";
const RESET: &str = "user_reset";
const ENABLE: &str = "user_enable";
const DISABLE: &str = "user_disable";

/// Whether an approval is one of this module's.
pub fn is_people_kind(kind: &str) -> bool {
    [CREATE, ROLES, RESET, ENABLE, DISABLE].contains(&kind)
}

/// Whether changes to people wait for a second administrator.
async fn needs_second_administrator(state: &AppState) -> Result<bool, AppError> {
    Ok(state.store.administrator_count().await? >= 2)
}

async fn event(state: &AppState, kind: &str, detail: Value, by: &str) -> Result<(), AppError> {
    state
        .store
        .record_event("console", kind, &detail, Some(by))
        .await?;
    Ok(())
}

async fn target(state: &AppState, user_id: &UserId) -> Result<User, AppError> {
    state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))
}

/// What the person who may hand a one-time code over is told.
fn enrolment_answer(user: &User, code: &str) -> Value {
    json!({
        "user_id": user.id,
        "username": user.username,
        "enrolment_code": code,
        "enrol_within_hours": ENROL_HOURS,
    })
}

/// Creates a user (administrators): at once while the organisation has one
/// administrator, else once a second approves.
pub async fn create_user(
    state: &AppState,
    staff: &Staff,
    username: &str,
    roles: &[Role],
) -> Result<Outcome, AppError> {
    // Checked before anyone is asked to approve.
    crate::app::auth::new_enrolment(username, roles)?;
    if state.store.user_by_name(username).await?.is_some() {
        return Err(AppError::refused(Refusal::UserExists {
            username: username.to_string(),
        }));
    }
    if needs_second_administrator(state).await? {
        let payload = json!({ "username": username, "roles": roles });
        return Ok(Outcome::Pending(
            request_approval(state, staff, CREATE, payload).await?,
        ));
    }
    Ok(Outcome::Done(
        create_now(state, &staff.user.staff_id, username, roles).await?,
    ))
}

async fn create_now(
    state: &AppState,
    by: &str,
    username: &str,
    roles: &[Role],
) -> Result<Value, AppError> {
    let (user, code) = crate::app::auth::new_enrolment(username, roles)?;
    let sealed = User {
        password_hash: hash_password_blocking(state, &code).await?,
        totp_secret: seal_totp(state, &user.totp_secret)?,
        ..user.clone()
    };
    state.store.create_user(&sealed).await?;
    event(
        state,
        "user_created",
        json!({ "user": user.id, "username": user.username, "roles": user.roles }),
        by,
    )
    .await?;
    Ok(enrolment_answer(&user, &code))
}

/// Replaces a user's roles, recording the old and new ones (GLI-31 5.2.4).
pub async fn set_roles(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
    roles: &[Role],
) -> Result<Outcome, AppError> {
    check_roles(roles)?;
    let user = target(state, user_id).await?;
    if needs_second_administrator(state).await? {
        let payload = json!({ "user": user_id, "username": user.username, "roles": roles });
        return Ok(Outcome::Pending(
            request_approval(state, staff, ROLES, payload).await?,
        ));
    }
    Ok(Outcome::Done(
        set_roles_now(state, &staff.user.staff_id, user_id, roles).await?,
    ))
}

async fn set_roles_now(
    state: &AppState,
    by: &str,
    user_id: &UserId,
    roles: &[Role],
) -> Result<Value, AppError> {
    let old = state
        .store
        .set_roles(user_id, roles)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))?;
    event(
        state,
        "roles_changed",
        json!({ "user": user_id, "old": old, "new": roles }),
        by,
    )
    .await?;
    Ok(json!({ "user_id": user_id, "roles": roles }))
}

/// Resets a user's password and authenticator (a lost phone): a new
/// one-time enrolment code, every session ended.
pub async fn reset_credentials(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
) -> Result<Outcome, AppError> {
    let user = target(state, user_id).await?;
    if needs_second_administrator(state).await? {
        let payload = json!({ "user": user_id, "username": user.username });
        return Ok(Outcome::Pending(
            request_approval(state, staff, RESET, payload).await?,
        ));
    }
    Ok(Outcome::Done(
        reset_now(state, &staff.user.staff_id, user_id).await?,
    ))
}

async fn reset_now(state: &AppState, by: &str, user_id: &UserId) -> Result<Value, AppError> {
    let user = target(state, user_id).await?;
    let (_, code) = crate::app::auth::new_enrolment(&user.username, &user.roles)?;
    let code_hash = hash_password_blocking(state, &code).await?;
    let sealed = seal_totp(state, &crate::app::auth::new_totp_secret()?)?;
    if !state
        .store
        .reset_credentials(user_id, &code_hash, &sealed)
        .await?
    {
        return Err(AppError::not_found("no such user"));
    }
    event(state, "credentials_reset", json!({ "user": user_id }), by).await?;
    Ok(enrolment_answer(&user, &code))
}

/// Disables a user and ends their sessions: at once, but for an
/// administrator while there are two. Disabling the other administrator
/// would otherwise bring the count to one and lift the second-administrator
/// rule for everything that follows.
pub async fn disable(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
) -> Result<Outcome, AppError> {
    let user = target(state, user_id).await?;
    let administrator = user.roles.contains(&Role::Administrator);
    if administrator && needs_second_administrator(state).await? {
        let payload = json!({ "user": user_id, "username": user.username });
        return Ok(Outcome::Pending(
            request_approval(state, staff, DISABLE, payload).await?,
        ));
    }
    Ok(Outcome::Done(
        disable_now(state, &staff.user.staff_id, user_id).await?,
    ))
}

async fn disable_now(state: &AppState, by: &str, user_id: &UserId) -> Result<Value, AppError> {
    if !state.store.set_disabled(user_id, true).await? {
        return Err(AppError::not_found("no such user"));
    }
    event(state, "user_disabled", json!({ "user": user_id }), by).await?;
    Ok(json!({ "user_id": user_id, "disabled": true }))
}

/// Enables a disabled user again (it restores access: a second
/// administrator approves once there are two).
pub async fn enable(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
) -> Result<Outcome, AppError> {
    let user = target(state, user_id).await?;
    if needs_second_administrator(state).await? {
        let payload = json!({ "user": user_id, "username": user.username });
        return Ok(Outcome::Pending(
            request_approval(state, staff, ENABLE, payload).await?,
        ));
    }
    Ok(Outcome::Done(
        enable_now(state, &staff.user.staff_id, user_id).await?,
    ))
}

async fn enable_now(state: &AppState, by: &str, user_id: &UserId) -> Result<Value, AppError> {
    state.store.set_disabled(user_id, false).await?;
    event(state, "user_enabled", json!({ "user": user_id }), by).await?;
    Ok(json!({ "user_id": user_id, "disabled": false }))
}

/// Makes an approved change to people (the decision was checked and
/// recorded by [`crate::app::operations::decide_approval`]).
pub(crate) async fn apply(
    state: &AppState,
    staff: &Staff,
    id: &str,
    kind: &str,
    payload: &Value,
) -> Result<Decided, AppError> {
    let by = &staff.user.staff_id;
    let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
    // The user a request names, parsed again as everything read back is.
    let user = || -> Result<UserId, AppError> { Ok(UserId::parse(&text("user"))?) };
    // A request's roles that do not read fail it, as any refusal does.
    let roles = || -> Result<Vec<Role>, AppError> {
        serde_json::from_value(payload["roles"].clone()).map_err(|e| {
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the request's roles do not read: {e}"),
            )
        })
    };
    let result = match kind {
        CREATE => match roles() {
            Ok(roles) => create_now(state, by, &text("username"), &roles).await,
            Err(e) => Err(e),
        },
        ROLES => match roles() {
            Ok(roles) => match user() {
                Ok(user) => set_roles_now(state, by, &user, &roles).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        RESET => match user() {
            Ok(user) => reset_now(state, by, &user).await,
            Err(e) => Err(e),
        },
        DISABLE => match user() {
            Ok(user) => disable_now(state, by, &user).await,
            Err(e) => Err(e),
        },
        _ => match user() {
            Ok(user) => enable_now(state, by, &user).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(v) => {
            state.store.finish_approval(id, "approved", kind).await?;
            Ok(Decided::People(v))
        }
        Err(e) => {
            state
                .store
                .finish_approval(id, "failed", &e.message)
                .await?;
            Err(e)
        }
    }
}

/// The sessions of a user: their own, or anyone's for administrators.
pub async fn sessions(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
) -> Result<Value, AppError> {
    if *user_id != staff.user.id {
        staff.require(&[Role::Administrator])?;
    }
    let current = state.store.session_id(&staff.token_sha256).await?;
    let list = state.store.sessions_of(user_id).await?;
    Ok(json!({
        "sessions": list.iter().map(|s| json!({
            "id": s.id,
            "created_at": s.created_at.to_string(),
            "last_seen": s.last_seen.to_string(),
            "current": current.as_deref() == Some(s.id.as_str()),
        })).collect::<Vec<_>>()
    }))
}

/// Ends one session: one's own, or anyone's for administrators. An unknown
/// session and someone else's answer the same 404.
pub async fn revoke_session(
    state: &AppState,
    staff: &Staff,
    session_id: &SessionId,
) -> Result<(), AppError> {
    let owner = state.store.session_owner(session_id).await?;
    let may = match &owner {
        Some(o) => *o == staff.user.id || staff.user.roles.contains(&Role::Administrator),
        None => false,
    };
    if !may {
        return Err(AppError::not_found("no such session"));
    }
    state.store.revoke_session(session_id).await?;
    event(
        state,
        "session_revoked",
        json!({ "session": session_id, "user": owner }),
        &staff.user.staff_id,
    )
    .await
}

/// Ends every session of a user (administrators).
pub async fn revoke_sessions_of(
    state: &AppState,
    staff: &Staff,
    user_id: &UserId,
) -> Result<Value, AppError> {
    target(state, user_id).await?;
    let n = state.store.revoke_sessions_of(user_id).await?;
    event(
        state,
        "sessions_revoked",
        json!({ "user": user_id, "count": n }),
        &staff.user.staff_id,
    )
    .await?;
    Ok(json!({ "user_id": user_id, "ended": n }))
}

/// Changes one's own password (the current one proves it is them); every
/// other session of theirs ends. Wrong current passwords count towards the
/// same per-address lock-out as sign-ins, so a stolen session cannot be
/// used to guess the password.
pub async fn change_password(
    state: &AppState,
    staff: &Staff,
    current: &str,
    new: &str,
    client: std::net::IpAddr,
) -> Result<(), AppError> {
    current_password(state, staff, current, client, "password_change_failed").await?;
    check_new_password(&staff.user.username, new)?;
    let hash = hash_password_blocking(state, new).await?;
    state
        .store
        .set_password(&staff.user.id, &hash, &staff.token_sha256)
        .await?;
    event(
        state,
        "password_changed",
        json!({ "user": staff.user.id }),
        &staff.user.staff_id,
    )
    .await
}

/// Checks that `current` is the signed-in user's password, under the same
/// per-address lock-out as sign-ins (a wrong one counts as a failed
/// sign-in, recorded as `failure`), so a stolen session cannot be used to
/// guess it.
async fn current_password(
    state: &AppState,
    staff: &Staff,
    current: &str,
    client: std::net::IpAddr,
    failure: &str,
) -> Result<(), AppError> {
    let wrong = || AppError::new(StatusCode::FORBIDDEN, "the current password is wrong");
    if crate::app::auth::locked_out(state, &staff.user, client).await? {
        return Err(wrong());
    }
    if !verify_password(state, Some(staff.user.password_hash.clone()), current).await {
        let key = crate::app::auth::username_hash(state, &staff.user.username);
        crate::app::auth::failed_sign_in(state, &key, &client.to_string(), failure).await?;
        return Err(wrong());
    }
    Ok(())
}

/// Checks a device PIN (GLI-31 3.2.2): 8 to 12 digits (a unit holds the
/// PIN hashes of the operators it may sign in, so a stolen unit's hashes
/// must cost real work to crack), not one digit repeated, not a run.
pub fn check_device_pin(pin: &str) -> Result<(), AppError> {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    if !(8..=12).contains(&digits.len()) || digits.iter().any(|d| !(0..=9).contains(d)) {
        return Err(AppError::bad_request("pin: 8 to 12 digits"));
    }
    let steps: std::collections::HashSet<i16> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.len() == 1 && steps.iter().all(|s| s.abs() <= 1) {
        return Err(AppError::bad_request(
            "pin: not one digit repeated or a run of digits",
        ));
    }
    Ok(())
}

/// Sets one's own device PIN (sales-unit operators): the PIN they sign in
/// with on a unit, which learns its Argon2id hash from the next operator
/// list (GLI-31 3.2.2, 6.1.2). The current password proves it is them,
/// under the same lock-out as sign-ins.
pub async fn set_device_pin(
    state: &AppState,
    staff: &Staff,
    current: &str,
    pin: &str,
    client: std::net::IpAddr,
) -> Result<(), AppError> {
    if !staff.user.roles.contains(&Role::RsuOperator) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "only sales-unit operators have a device PIN",
        ));
    }
    current_password(state, staff, current, client, "device_pin_change_failed").await?;
    check_device_pin(pin)?;
    let hash = hash_password_blocking(state, pin).await?;
    state
        .store
        .set_device_pin(&staff.user.id, Some(&hash))
        .await?;
    event(
        state,
        "device_pin_set",
        json!({ "user": staff.user.id }),
        &staff.user.staff_id,
    )
    .await
}

/// Enrolment, first step: the user's own password replaces the one-time
/// code; answers the TOTP secret, new and shown to this session alone.
pub async fn enrolment_password(
    state: &AppState,
    user: &User,
    token_sha256: &[u8; 32],
    password: &str,
) -> Result<Value, AppError> {
    // Once: a stolen enrolment session must not re-key the account.
    if !user.must_set_password {
        return Err(AppError::refused(Refusal::PasswordAlreadySet {}));
    }
    check_new_password(&user.username, password)?;
    let hash = hash_password_blocking(state, password).await?;
    state
        .store
        .set_password(&user.id, &hash, token_sha256)
        .await?;
    let secret = crate::app::auth::new_totp_secret()?;
    state
        .store
        .set_enrolment_secret(&user.id, &seal_totp(state, &secret)?)
        .await?;
    event(
        state,
        "password_set",
        json!({ "user": user.id }),
        &user.staff_id,
    )
    .await?;
    Ok(json!({
        "totp_secret": secret,
        "otpauth_uri": crate::app::auth::totp_uri(&user.username, &secret),
        "next": "POST /api/v1/enrolment/totp {\"code\"}",
    }))
}
