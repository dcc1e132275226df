//! People and access (architecture page): console users with an Argon2id
//! password and a TOTP second factor, bearer sessions that end after 30
//! minutes idle, lock-out after repeated failures, and role checks.
//!
//! Roles: administrator (users, settings), raffle_manager (raffles, draws,
//! claims), finance (voids, refunds, reconciliation), auditor (read-only),
//! rsu_operator (sells on a device).

use crate::AppState;
use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use raffle_core::Role;
use raffle_core::store::people::User;
use sha2::Digest as _;
use totp_rs::{Algorithm, Secret, TOTP};

fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("OS random: {e}")))?;
    Ok(b)
}

/// A random token of `N` bytes from the OS CSPRNG, as base64url.
pub fn random_token<const N: usize>() -> Result<String, AppError> {
    Ok(base64_url(&random_bytes::<N>()?))
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn totp(secret_base32: &str) -> Result<TOTP, AppError> {
    let bytes = Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|e| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("TOTP secret: {e:?}"),
            )
        })?;
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes)
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("TOTP: {e:?}")))
}

/// The time step whose code `code` is, among the current one and its
/// neighbours, if any.
fn totp_step(secret_base32: &str, code: &str) -> Result<Option<u64>, AppError> {
    let totp = totp(secret_base32)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .as_secs();
    let step = now / totp.step;
    Ok([step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| totp.generate(s * totp.step).as_bytes() == code.as_bytes()))
}

/// The current TOTP code for a secret (for tests and the bootstrap output).
pub fn totp_now(secret_base32: &str) -> Result<String, AppError> {
    totp(secret_base32)?
        .generate_current()
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A new user with a random password and TOTP secret; returns the user and
/// the password (hashed here, on the calling thread: for tools and tests).
pub fn new_user(username: &str, roles: &[Role]) -> Result<(User, String), AppError> {
    let (mut user, password) = new_account(username, roles)?;
    user.password_hash = hash_password(&password)?;
    Ok((user, password))
}

/// A checked username and roles, a random password (not hashed yet) and
/// TOTP secret.
fn new_account(username: &str, roles: &[Role]) -> Result<(User, String), AppError> {
    if !plausible_username(username) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "usernames are 3 to 64 letters, digits, dots, dashes or underscores",
        ));
    }
    check_roles(roles)?;
    let password = base64_url(&random_bytes::<18>()?);
    let secret = new_totp_secret()?;
    let user = User {
        id: raffle_core::ids::UserId::new_random(),
        staff_id: raffle_core::ids::StaffId::new_random()?,
        username: username.to_string(),
        password_hash: String::new(),
        totp_secret: secret,
        roles: roles.to_vec(),
        enrolled: true,
        must_set_password: false,
        disabled: false,
    };
    Ok((user, password))
}

/// A new user still to enrol: their one-time enrolment code (returned, and
/// stored as the password hash) opens an enrolment session in which they
/// set their own password and confirm the TOTP secret shown to them alone.
/// The code is not hashed here (the caller hashes it off the async workers).
pub fn new_enrolment(username: &str, roles: &[Role]) -> Result<(User, String), AppError> {
    let (mut user, code) = new_account(username, roles)?;
    user.enrolled = false;
    user.must_set_password = true;
    Ok((user, code))
}

/// Roles given to a user: at least one (each is a [`Role`], parsed where
/// it arrived).
pub fn check_roles(roles: &[Role]) -> Result<(), AppError> {
    if roles.is_empty() {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a user needs at least one role",
        ));
    }
    Ok(())
}

/// A password a user chooses: 12 to 128 characters, not their username.
pub fn check_new_password(username: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if !(12..=128).contains(&n) || password.eq_ignore_ascii_case(username) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a password is 12 to 128 characters and not the username",
        ));
    }
    Ok(())
}

/// A fresh TOTP secret, base32.
pub fn new_totp_secret() -> Result<String, AppError> {
    Ok(Secret::Raw(random_bytes::<20>()?.to_vec())
        .to_encoded()
        .to_string())
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A sign-in that succeeded: a new session token.
pub enum SignedIn {
    /// The user signed in with password and TOTP code.
    Enrolled(String),
    /// The user has no authenticator yet (created in the console): the
    /// password alone opens a session that reaches only the enrolment page.
    MustEnrol(String),
}

/// Whether `username` has the form of one (else it is not looked up: a NUL
/// byte or a megabyte of text is an unknown user, not a database error).
fn plausible_username(username: &str) -> bool {
    (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// The attempted username as the sign-in counters and events know it:
/// HMAC-SHA256 keyed with the server's secret (people type passwords into
/// that field, and a plain hash of a password can be searched for).
pub fn username_hash(state: &AppState, username: &str) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&state.secret[..])
        .expect("HMAC takes any key length");
    mac.update(b"raffle-sign-in/v1\0");
    mac.update(username.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Checks a password against its Argon2 hash on a blocking thread, at most
/// [`crate::ARGON2_AT_ONCE`] at once. `None` hash: spends the same effort
/// on a dummy (an unknown user costs what a known one does).
pub async fn verify_password(state: &AppState, hash: Option<String>, password: &str) -> bool {
    let Ok(_permit) = state.argon2.acquire().await else {
        return false;
    };
    let password = password.to_string();
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => PasswordHash::new(&h)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false),
        None => {
            let _ = hash_password(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Hashes a password on a blocking thread, like [`verify_password`].
pub async fn hash_password_blocking(state: &AppState, password: &str) -> Result<String, AppError> {
    let _permit = state
        .argon2
        .acquire()
        .await
        .map_err(|e| AppError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The one answer to a sign-in that did not succeed, whether the username
/// is unknown, the account is locked for this address, or the password or
/// code is wrong: nothing tells them apart.
pub fn refused() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "wrong username, password or code")
}

/// Checks a sign-in from `client`; on success returns a new session token.
///
/// Failures are counted per (attempted username, client address): five
/// lock that address out of that username for 15 minutes (the counter
/// starts again when the lock ends), so nobody can lock a user out from
/// elsewhere. Across all addresses, many failures only slow the answers
/// down, a correct password and code included, never refuse them. Every
/// failure is a significant event with the address and the username's
/// keyed hash (GLI-31 5.6.1), in PostgreSQL only.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    code: &str,
    client: std::net::IpAddr,
) -> Result<SignedIn, AppError> {
    let key = username_hash(state, username);
    let address = client.to_string();
    if state.store.recent_sign_in_failures(&key).await?
        >= raffle_core::store::people::SLOW_DOWN_AFTER
    {
        tokio::time::sleep(SLOW_DOWN).await;
    }
    let locked = state.store.sign_in_locked(&key, &address).await?;
    let user = if plausible_username(username) {
        state.store.user_by_name(username).await?
    } else {
        None
    };
    let password_ok = verify_password(
        state,
        user.as_ref().map(|u| u.password_hash.clone()),
        password,
    )
    .await;
    // The code of the current 30-second step, or of the one before or after
    // (clock skew); each step is accepted once per user. A user still to
    // enrol has no code to give.
    let fresh = match &user {
        Some(user) if password_ok && !locked && !user.disabled => {
            if !user.enrolled {
                // The one-time enrolment code expires.
                !state.store.enrolment_expired(&user.id).await?
            } else {
                match totp_step(&open_totp(state, &user.totp_secret)?, code)? {
                    Some(step) => state.store.consume_totp_step(&user.id, step).await?,
                    None => false,
                }
            }
        }
        _ => false,
    };
    let Some(user) = user.filter(|_| fresh) else {
        failed_sign_in(state, &key, &address, "sign_in_failed").await?;
        return Err(refused());
    };
    state.store.clear_sign_in_failures(&key, &address).await?;
    let token = base64_url(&random_bytes::<32>()?);
    state
        .store
        .create_session(&user.id, &sha2::Sha256::digest(token.as_bytes()).into())
        .await?;
    state
        .store
        .record_event(
            "console",
            "sign_in",
            &serde_json::json!({ "enrolled": user.enrolled, "address": address }),
            Some(&user.staff_id),
        )
        .await?;
    Ok(if user.enrolled {
        SignedIn::Enrolled(token)
    } else {
        SignedIn::MustEnrol(token)
    })
}

/// How long each answer for a username under attack (from many
/// addresses) is held back.
const SLOW_DOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// Counts a failure towards the address's lock-out and records it (GLI-31
/// 5.6.1): the address and the username's keyed hash, never the username.
pub(crate) async fn failed_sign_in(
    state: &AppState,
    key: &[u8; 32],
    address: &str,
    kind: &str,
) -> Result<(), AppError> {
    state.store.record_sign_in_failure(key, address).await?;
    state
        .store
        .record_event(
            "console",
            kind,
            &serde_json::json!({ "address": address, "username_hmac": hex::encode(key) }),
            None,
        )
        .await?;
    Ok(())
}

/// Whether `client` is locked out of `user` (after wrong enrolment codes).
pub async fn locked_out(
    state: &AppState,
    user: &User,
    client: std::net::IpAddr,
) -> Result<bool, AppError> {
    let key = username_hash(state, &user.username);
    Ok(state
        .store
        .sign_in_locked(&key, &client.to_string())
        .await?)
}

/// Completes a user's TOTP enrolment with a code from their newly set up
/// authenticator (the code is used up, like a sign-in's). False, counted
/// as a failed sign-in, when the code is wrong.
pub async fn enrol(
    state: &AppState,
    user: &User,
    code: &str,
    client: std::net::IpAddr,
) -> Result<bool, AppError> {
    let ok = match totp_step(&open_totp(state, &user.totp_secret)?, code.trim())? {
        Some(step) => state.store.consume_totp_step(&user.id, step).await?,
        None => false,
    };
    if !ok {
        let key = username_hash(state, &user.username);
        failed_sign_in(state, &key, &client.to_string(), "enrolment_failed").await?;
        return Ok(false);
    }
    state.store.enrol_totp(&user.id).await?;
    state
        .store
        .record_event(
            "console",
            "totp_enrolled",
            &serde_json::json!({ "username": user.username }),
            Some(&user.staff_id),
        )
        .await?;
    Ok(true)
}

/// The `otpauth://` URI an authenticator app scans (Key Uri Format).
/// Usernames are letters, digits, dots, dashes and underscores, and the
/// secret is base32: nothing needs escaping.
pub fn totp_uri(username: &str, secret_base32: &str) -> String {
    format!(
        "otpauth://totp/Raffles:{username}?secret={secret_base32}&issuer=Raffles&algorithm=SHA1&digits=6&period=30"
    )
}

/// A signed-in console user, from `Authorization: Bearer <token>`.
#[derive(Clone, Debug)]
pub struct Staff {
    pub user: User,
    pub token_sha256: [u8; 32],
}

impl Staff {
    /// Refuses unless the user has one of `roles` (GLI-31 5.2.2).
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.has(roles) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(AppError::new(
                StatusCode::FORBIDDEN,
                format!("this needs the role {}", names.join(" or ")),
            ))
        }
    }

    /// Whether the user has one of `roles` (never, for none).
    pub fn has(&self, roles: &[Role]) -> bool {
        self.user.roles.iter().any(|r| roles.contains(r))
    }
}

/// The user and token hash of the bearer session on a request.
async fn bearer_session(parts: &Parts, state: &AppState) -> Result<(User, [u8; 32]), AppError> {
    let unauthorized = || {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "sign in first (Authorization: Bearer <token>)",
        )
    };
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(unauthorized)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let token_sha256: [u8; 32] = sha2::Sha256::digest(token.trim().as_bytes()).into();
    let user = state
        .store
        .session_user(&token_sha256, state.config.limits.session_hours)
        .await?
        .ok_or_else(unauthorized)?;
    Ok((user, token_sha256))
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Staff, AppError> {
        let (user, token_sha256) = bearer_session(parts, state).await?;
        if !user.enrolled {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "finish enrolment first: POST /api/v1/enrolment/password, then /api/v1/enrolment/totp (or /console/enrol)",
            ));
        }
        Ok(Staff { user, token_sha256 })
    }
}

/// A bearer session of a user still enrolling (opened with their one-time
/// enrolment code): it reaches only the enrolment steps.
pub struct Enrolling {
    pub user: User,
    pub token_sha256: [u8; 32],
}

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Enrolling, AppError> {
        let (user, token_sha256) = bearer_session(parts, state).await?;
        if user.enrolled {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "this user has enrolled already",
            ));
        }
        // An enrolment session lasts no longer than its code.
        if state.store.enrolment_expired(&user.id).await? {
            state.store.delete_session(&token_sha256).await?;
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "the enrolment has expired: ask an administrator for a new code",
            ));
        }
        Ok(Enrolling { user, token_sha256 })
    }
}

/// The key TOTP secrets are sealed with: derived from the server's secret
/// (in the data directory, never in the database), so a copy of the
/// database alone holds no usable second factor.
fn totp_key(server_secret: &[u8; 32]) -> chacha20poly1305::Key {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&server_secret[..])
        .expect("HMAC takes any key length");
    mac.update(b"raffle-totp-seal/v1");
    let bytes: [u8; 32] = mac.finalize().into_bytes().into();
    bytes.into()
}

const SEALED: &str = "sealed1:";

/// A TOTP secret (base32) as stored: `sealed1:` and the base64 of a random
/// 96-bit nonce followed by its ChaCha20-Poly1305 ciphertext.
pub fn seal_totp(state: &AppState, secret_base32: &str) -> Result<String, AppError> {
    seal_totp_with(&state.secret, secret_base32)
}

/// [`seal_totp`] with the server's secret as read from the data directory
/// ([`crate::app::keys::load_or_create_secret`]): for tools that make
/// users before `raffled` runs.
pub fn seal_totp_with(server_secret: &[u8; 32], secret_base32: &str) -> Result<String, AppError> {
    use chacha20poly1305::aead::{Aead as _, KeyInit as _};
    let cipher = chacha20poly1305::ChaCha20Poly1305::new(&totp_key(server_secret));
    let nonce = random_bytes::<12>()?;
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt((&nonce).into(), secret_base32.as_bytes())
            .map_err(|_| {
                AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "sealing a TOTP secret")
            })?,
    );
    use base64::Engine as _;
    Ok(format!(
        "{SEALED}{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    ))
}

/// The TOTP secret (base32) of a stored value: sealed ones are opened;
/// one stored before sealing existed is taken as it is (and sealed at the
/// next start, [`seal_stored_secrets`]).
pub fn open_totp(state: &AppState, stored: &str) -> Result<String, AppError> {
    use chacha20poly1305::aead::{Aead as _, KeyInit as _};
    let Some(sealed) = stored.strip_prefix(SEALED) else {
        return Ok(stored.to_string());
    };
    let broken = || {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a TOTP secret does not open with this server's secret (was server.secret replaced?)",
        )
    };
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| broken())?;
    if bytes.len() < 12 {
        return Err(broken());
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let cipher = chacha20poly1305::ChaCha20Poly1305::new(&totp_key(&state.secret));
    let plain = cipher
        .decrypt(nonce.into(), ciphertext)
        .map_err(|_| broken())?;
    String::from_utf8(plain).map_err(|_| broken())
}

/// At start: seals every TOTP secret still stored in the clear.
pub async fn seal_stored_secrets(state: &AppState) -> Result<usize, AppError> {
    let clear = state.store.clear_totp_secrets().await?;
    for (user, secret) in &clear {
        state
            .store
            .replace_totp_secret(user, &seal_totp(state, secret)?)
            .await?;
    }
    Ok(clear.len())
}
