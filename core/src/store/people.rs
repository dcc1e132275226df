//! Console users, sessions and approvals (GLI-31 5.2.2, 5.2.4). Passwords
//! are hashed by the caller (Argon2id); session tokens are stored only as
//! their SHA-256; sessions end after 30 minutes idle or at their absolute
//! lifetime, and when their user is disabled or their credentials reset.
//!
//! A user created or reset by an administrator holds a one-time enrolment
//! code (stored as their password hash, valid until `enrol_by`): it opens
//! an enrolment session in which they set their own password and then
//! confirm their authenticator.

use super::{Store, uuid};
use crate::ids::{StaffId, UserId};
use crate::{Error, Refusal, Result, Role};
use sqlx::Row;

/// Sessions end after this long without use.
pub const IDLE_MINUTES: i32 = 30;
/// Failed sign-ins before a lock-out, and its length.
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i32 = 15;
/// How long a one-time enrolment code stays valid.
pub const ENROL_HOURS: i32 = 72;

/// A console user. `Debug` leaves out the password hash and the TOTP secret.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub staff_id: StaffId,
    pub username: String,
    pub password_hash: String,
    pub totp_secret: String,
    pub roles: Vec<Role>,
    /// Whether the user has enrolled their TOTP authenticator; until then a
    /// session of theirs reaches only enrolment.
    pub enrolled: bool,
    /// The password is still the one-time enrolment code: the user sets
    /// their own before confirming an authenticator.
    pub must_set_password: bool,
    /// A disabled user cannot sign in and has no live session.
    pub disabled: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("staff_id", &self.staff_id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("totp_secret", &"<redacted>")
            .field("roles", &self.roles)
            .field("enrolled", &self.enrolled)
            .field("must_set_password", &self.must_set_password)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A user as the administrator's user list shows them.
#[derive(Clone, Debug)]
pub struct UserSummary {
    pub id: UserId,
    pub staff_id: StaffId,
    pub username: String,
    pub roles: Vec<Role>,
    pub enrolled: bool,
    pub disabled: bool,
    pub created_at: crate::Timestamp,
    /// Live sessions.
    pub sessions: i64,
}

/// A live session as its owner and administrators see it (never its token).
#[derive(Clone, Debug)]
pub struct SessionSummary {
    pub id: String,
    pub user_id: String,
    pub created_at: crate::Timestamp,
    pub last_seen: crate::Timestamp,
}

/// A request waiting for a second person (GLI-31 5.2.4).
#[derive(Clone, Debug)]
pub struct PendingApproval {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub requested_by: String,
    pub requester: String,
    pub created_at: crate::Timestamp,
}

/// A jurisdiction's texts for raffle pages and receipts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JurisdictionTexts {
    pub jurisdiction: String,
    pub help_line: String,
    pub estimate_notice_en: String,
    pub estimate_notice_fr: String,
}

/// Roles as the database keeps them (text). A role this build does not
/// know (written by a newer one) grants nothing here.
fn roles_from(texts: Vec<String>) -> Vec<Role> {
    texts.iter().filter_map(|t| Role::parse(t).ok()).collect()
}

fn roles_text(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_string()).collect()
}

fn user_from(row: &sqlx::postgres::PgRow) -> User {
    User {
        id: row.get(0),
        staff_id: row.get(1),
        username: row.get(2),
        password_hash: row.get(3),
        totp_secret: row.get(4),
        roles: roles_from(row.get(5)),
        enrolled: row.get(6),
        disabled: row.get(7),
        must_set_password: row.get(8),
    }
}

/// The columns `user_from` reads, as a literal for `concat!` (static SQL only).
macro_rules! user_columns {
    () => {
        "id::text, staff_id, username, password_hash, totp_secret, roles, totp_enrolled, disabled, must_set_password"
    };
}

/// How many enabled users hold the administrator role.
const ENABLED_ADMINISTRATORS: &str =
    "SELECT count(*) FROM users WHERE 'administrator' = ANY (roles) AND NOT disabled";

/// Refuses a change (inside its transaction, users locked) that would
/// leave no enabled administrator.
async fn keep_an_administrator(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<()> {
    let admins: i64 = sqlx::query_scalar(ENABLED_ADMINISTRATORS)
        .fetch_one(&mut **tx)
        .await?;
    if admins == 0 {
        return Err(Error::Refused(Refusal::LastAdministrator {}));
    }
    Ok(())
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Stores a new user. One not yet enrolled holds a one-time enrolment
    /// code (its `password_hash`) valid for [`ENROL_HOURS`].
    pub async fn create_user(&self, user: &User) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO users (id, staff_id, username, password_hash, totp_secret, roles, totp_enrolled, must_set_password, enrol_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 THEN NULL ELSE now() + make_interval(hours => $9) END) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(uuid(&user.id)?)
        .bind(&user.staff_id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.totp_secret)
        .bind(roles_text(&user.roles))
        .bind(user.enrolled)
        .bind(user.must_set_password)
        .bind(ENROL_HOURS)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Refused(Refusal::UserExists {
                username: user.username.clone(),
            }));
        }
        Ok(())
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from))
    }

    /// A user by id.
    pub async fn user_by_id(&self, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(uuid(user_id)?)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from))
    }

    /// Whether a user still to enrol holds an expired enrolment code.
    pub async fn enrolment_expired(&self, user_id: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT NOT totp_enrolled AND coalesce(enrol_by < now(), true) FROM users WHERE id = $1",
        )
        .bind(uuid(user_id)?)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(true))
    }

    /// Replaces a user's password with one of their own; with `keep`, ends
    /// every other session of theirs (a changed password locks out whoever
    /// held the old one).
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &[u8; 32],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2, must_set_password = false WHERE id = $1")
            .bind(uuid(user_id)?)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_sha256 <> $2")
            .bind(uuid(user_id)?)
            .bind(&keep[..])
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the TOTP secret of a user still enrolling.
    pub async fn set_enrolment_secret(&self, user_id: &str, sealed: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_secret = $2, last_totp_step = NULL WHERE id = $1 AND NOT totp_enrolled")
            .bind(uuid(user_id)?)
            .bind(sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Resets a user's credentials: a new one-time enrolment code (its
    /// hash) and TOTP secret (sealed), not enrolled, every session ended.
    /// Returns false for an unknown user.
    pub async fn reset_credentials(
        &self,
        user_id: &str,
        code_hash: &str,
        sealed_secret: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $2, totp_secret = $3, totp_enrolled = false, must_set_password = true, \
             last_totp_step = NULL, enrol_by = now() + make_interval(hours => $4) WHERE id = $1",
        )
        .bind(uuid(user_id)?)
        .bind(code_hash)
        .bind(sealed_secret)
        .bind(ENROL_HOURS)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(uuid(user_id)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Disables or enables a user; disabling ends their sessions. Refuses
    /// to disable the last enabled administrator. Returns false for an
    /// unknown user.
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
            .bind(uuid(user_id)?)
            .bind(disabled)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(uuid(user_id)?)
                .execute(&mut *tx)
                .await?;
            keep_an_administrator(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Enabled administrators (user creation and role changes need a
    /// second one's approval once there are two).
    pub async fn administrator_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(ENABLED_ADMINISTRATORS)
            .fetch_one(&self.pool)
            .await?)
    }

    /// A user's live sessions, newest first.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionSummary>> {
        let rows = sqlx::query(
            "SELECT id::text, user_id::text, created_at, last_seen FROM sessions WHERE user_id = $1 \
             AND last_seen >= now() - make_interval(mins => $2) ORDER BY created_at DESC",
        )
        .bind(uuid(user_id)?)
        .bind(IDLE_MINUTES)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SessionSummary {
                id: r.get(0),
                user_id: r.get(1),
                created_at: crate::Timestamp::from_datetime(r.get(2)),
                last_seen: crate::Timestamp::from_datetime(r.get(3)),
            })
            .collect())
    }

    /// The session with this id: its user, or `None`.
    pub async fn session_owner(&self, session_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT user_id::text FROM sessions WHERE id = $1")
                .bind(uuid(session_id)?)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The id of the session with this token hash.
    pub async fn session_id(&self, token_sha256: &[u8; 32]) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT id::text FROM sessions WHERE token_sha256 = $1")
                .bind(&token_sha256[..])
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Ends one session by id; false if there was none.
    pub async fn revoke_session(&self, session_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(uuid(session_id)?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of a user; how many.
    pub async fn revoke_sessions_of(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(uuid(user_id)?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records that a user signed in with the TOTP code of time step
    /// `step`; false if that step (or a later one) was used already (a replayed code).
    pub async fn consume_totp_step(&self, user_id: &str, step: u64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET last_totp_step = $2 WHERE id = $1 AND (last_totp_step IS NULL OR last_totp_step < $2)")
            .bind(uuid(user_id)?)
            .bind(step as i64)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_session(&self, user_id: &str, token_sha256: &[u8; 32]) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_sha256, user_id) VALUES ($1, $2)")
            .bind(&token_sha256[..])
            .bind(uuid(user_id)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The user of a live session (touching it), or `None` if it is
    /// unknown, has been idle for 30 minutes, is older than `lifetime_hours`
    /// (then it is deleted), or its user is disabled.
    pub async fn session_user(
        &self,
        token_sha256: &[u8; 32],
        lifetime_hours: u32,
    ) -> Result<Option<User>> {
        self.session_user_seen(token_sha256, lifetime_hours, true)
            .await
    }

    /// [`Store::session_user`], counting the request as activity only with
    /// `seen`: a page's own automatic reloads (the status panel) must not
    /// keep an unattended session from its idle end.
    pub async fn session_user_seen(
        &self,
        token_sha256: &[u8; 32],
        lifetime_hours: u32,
        seen: bool,
    ) -> Result<Option<User>> {
        sqlx::query(
            "DELETE FROM sessions WHERE token_sha256 = $1 \
             AND (last_seen < now() - make_interval(mins => $2) OR created_at < now() - make_interval(hours => $3))",
        )
        .bind(&token_sha256[..])
        .bind(IDLE_MINUTES)
        .bind(lifetime_hours as i32)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(concat!(
            "WITH s AS (UPDATE sessions SET last_seen = CASE WHEN $2 THEN now() ELSE last_seen END \
             WHERE token_sha256 = $1 RETURNING user_id) SELECT ",
            user_columns!(),
            " FROM users WHERE id = (SELECT user_id FROM s) AND NOT disabled"
        ))
        .bind(&token_sha256[..])
        .bind(seen)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from))
    }

    pub async fn delete_session(&self, token_sha256: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(&token_sha256[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_approval(
        &self,
        id: &str,
        kind: &str,
        payload: &serde_json::Value,
        requested_by: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO approvals (id, kind, payload, requested_by, status) VALUES ($1, $2, $3, $4, 'pending')")
            .bind(uuid(id)?)
            .bind(kind)
            .bind(payload)
            .bind(uuid(requested_by)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes a pending approval for a decision (status moves from pending,
    /// once): returns its kind, payload and requester.
    pub async fn claim_approval(
        &self,
        id: &str,
        decided_by: &str,
        status: &str,
    ) -> Result<Option<(String, serde_json::Value, String)>> {
        let row = sqlx::query(
            "UPDATE approvals SET status = $3, decided_by = $2, decided_at = now() \
             WHERE id = $1 AND status = 'pending' AND requested_by <> $2 RETURNING kind, payload, requested_by::text",
        )
        .bind(uuid(id)?)
        .bind(uuid(decided_by)?)
        .bind(status)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// An approval's kind, requester, status and payload.
    pub async fn approval(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String, serde_json::Value)>> {
        let row = sqlx::query(
            "SELECT kind, requested_by::text, status, payload FROM approvals WHERE id = $1",
        )
        .bind(uuid(id)?)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
    }

    pub async fn finish_approval(&self, id: &str, status: &str, outcome: &str) -> Result<()> {
        sqlx::query("UPDATE approvals SET status = $2, outcome = $3 WHERE id = $1")
            .bind(uuid(id)?)
            .bind(status)
            .bind(outcome)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn staff_id_of(&self, user_id: &str) -> Result<StaffId> {
        Ok(
            sqlx::query_scalar("SELECT staff_id FROM users WHERE id = $1")
                .bind(uuid(user_id)?)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserSummary>> {
        let rows = sqlx::query(
            "SELECT u.id::text, u.staff_id, u.username, u.roles, u.totp_enrolled, u.disabled, u.created_at, \
             (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.last_seen >= now() - make_interval(mins => $1)) \
             FROM users u ORDER BY u.username",
        )
        .bind(IDLE_MINUTES)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| UserSummary {
                id: r.get(0),
                staff_id: r.get(1),
                username: r.get(2),
                roles: roles_from(r.get(3)),
                enrolled: r.get(4),
                disabled: r.get(5),
                created_at: crate::Timestamp::from_datetime(r.get(6)),
                sessions: r.get(7),
            })
            .collect())
    }

    /// Replaces a user's roles; returns the old ones, or `None` for an
    /// unknown user. Refuses to leave no administrator.
    pub async fn set_roles(&self, user_id: &str, roles: &[Role]) -> Result<Option<Vec<Role>>> {
        let mut tx = self.pool.begin().await?;
        // One role change at a time, so two administrators cannot each
        // remove the other's role.
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let old: Option<Vec<String>> = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
            .bind(uuid(user_id)?)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(old) = old else { return Ok(None) };
        sqlx::query("UPDATE users SET roles = $2 WHERE id = $1")
            .bind(uuid(user_id)?)
            .bind(roles_text(roles))
            .execute(&mut *tx)
            .await?;
        keep_an_administrator(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(roles_from(old)))
    }

    /// Marks a user's TOTP authenticator as enrolled (once they have set
    /// their own password).
    pub async fn enrol_totp(&self, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_enrolled = true, enrol_by = NULL WHERE id = $1 AND NOT must_set_password")
            .bind(uuid(user_id)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The requests waiting for a decision, oldest first.
    pub async fn pending_approvals(&self) -> Result<Vec<PendingApproval>> {
        let rows = sqlx::query(
            "SELECT a.id::text, a.kind, a.payload, a.requested_by::text, u.username, a.created_at \
             FROM approvals a JOIN users u ON u.id = a.requested_by WHERE a.status = 'pending' ORDER BY a.created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PendingApproval {
                id: r.get(0),
                kind: r.get(1),
                payload: r.get(2),
                requested_by: r.get(3),
                requester: r.get(4),
                created_at: crate::Timestamp::from_datetime(r.get(5)),
            })
            .collect())
    }

    /// A jurisdiction's texts, if an administrator has set them.
    pub async fn jurisdiction_texts(
        &self,
        jurisdiction: &str,
    ) -> Result<Option<JurisdictionTexts>> {
        let row = sqlx::query(
            "SELECT jurisdiction, help_line, estimate_notice_en, estimate_notice_fr FROM jurisdiction_texts WHERE jurisdiction = $1",
        )
        .bind(jurisdiction)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(texts_from))
    }

    /// Every jurisdiction's texts, by code.
    pub async fn all_jurisdiction_texts(&self) -> Result<Vec<JurisdictionTexts>> {
        let rows = sqlx::query(
            "SELECT jurisdiction, help_line, estimate_notice_en, estimate_notice_fr FROM jurisdiction_texts ORDER BY jurisdiction",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(texts_from).collect())
    }

    /// Sets a jurisdiction's texts; returns the old ones.
    pub async fn set_jurisdiction_texts(
        &self,
        t: &JurisdictionTexts,
    ) -> Result<Option<JurisdictionTexts>> {
        let mut tx = self.pool.begin().await?;
        let old = sqlx::query(
            "SELECT jurisdiction, help_line, estimate_notice_en, estimate_notice_fr FROM jurisdiction_texts WHERE jurisdiction = $1 FOR UPDATE",
        )
        .bind(&t.jurisdiction)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jurisdiction_texts (jurisdiction, help_line, estimate_notice_en, estimate_notice_fr) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (jurisdiction) DO UPDATE SET help_line = $2, estimate_notice_en = $3, estimate_notice_fr = $4, updated_at = now()",
        )
        .bind(&t.jurisdiction)
        .bind(&t.help_line)
        .bind(&t.estimate_notice_en)
        .bind(&t.estimate_notice_fr)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(old.as_ref().map(texts_from))
    }

    /// Records a significant event (GLI-31 5.6.1).
    pub async fn record_event(
        &self,
        component: &str,
        kind: &str,
        detail: &serde_json::Value,
        user: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (component, kind, detail, user_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(component)
        .bind(kind)
        .bind(detail)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Significant events, searchable by time range, component and kind (GLI-31 5.6.2), newest first.
    pub async fn events(
        &self,
        from: Option<time::OffsetDateTime>,
        to: Option<time::OffsetDateTime>,
        component: Option<&str>,
        kind: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT id, time, component, kind, detail, user_id FROM events \
             WHERE ($1::timestamptz IS NULL OR time >= $1) AND ($2::timestamptz IS NULL OR time < $2) \
             AND ($3::text IS NULL OR component = $3) AND ($4::text IS NULL OR kind = $4) \
             AND ($6::bigint IS NULL OR id < $6) ORDER BY id DESC LIMIT $5",
        )
        .bind(from)
        .bind(to)
        .bind(component)
        .bind(kind)
        .bind(limit)
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_json).collect())
    }
}

/// An event's canonical record, as hashed by `events.digest`: compact JSON
/// with sorted keys of id, time, component, kind, detail and user.
pub fn event_record(event: &serde_json::Value) -> Vec<u8> {
    // serde_json's maps are sorted by key, so this encoding is canonical.
    serde_json::to_vec(event).expect("JSON values always encode")
}

impl Store {
    /// The digest of the events not yet anchored in the log: the events after
    /// the last `events.digest` entry, or `None` when there are none.
    pub async fn pending_events_digest(&self) -> Result<Option<crate::entry::EventsDigest>> {
        use sha2::{Digest as _, Sha256};
        let last: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT body FROM log_entries WHERE kind = 'events.digest' ORDER BY idx DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let after = match last {
            Some(body) => match crate::entry::Entry::parse(&body)?.body {
                crate::entry::Body::EventsDigest(d) => d.last.0,
                _ => 0,
            },
            None => 0,
        };
        let rows = sqlx::query("SELECT id FROM events WHERE id > $1 ORDER BY id")
            .bind(after as i64)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let (first, last) = (
            rows[0].get::<i64, _>(0),
            rows[rows.len() - 1].get::<i64, _>(0),
        );
        let mut events = self.events_between(first, last).await?;
        events.sort_by_key(|e| e["id"].as_str().and_then(|s| s.parse::<u64>().ok()));
        let mut h = Sha256::new();
        for e in &events {
            h.update(event_record(e));
            h.update(b"\n");
        }
        Ok(Some(crate::entry::EventsDigest {
            first: crate::entry::U64(first as u64),
            last: crate::entry::U64(last as u64),
            count: crate::entry::U64(events.len() as u64),
            sha256: crate::entry::Digest32(h.finalize().into()),
        }))
    }

    /// Events with ids in first..=last, in their canonical JSON form.
    pub async fn events_between(&self, first: i64, last: i64) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT id, time, component, kind, detail, user_id FROM events WHERE id BETWEEN $1 AND $2 ORDER BY id")
            .bind(first)
            .bind(last)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_json).collect())
    }
}

fn texts_from(r: &sqlx::postgres::PgRow) -> JurisdictionTexts {
    JurisdictionTexts {
        jurisdiction: r.get(0),
        help_line: r.get(1),
        estimate_notice_en: r.get(2),
        estimate_notice_fr: r.get(3),
    }
}

fn event_json(r: &sqlx::postgres::PgRow) -> serde_json::Value {
    let ts = crate::Timestamp::from_datetime(r.get(1));
    serde_json::json!({
        "id": r.get::<i64, _>(0).to_string(),
        "time": ts,
        "component": r.get::<String, _>(2),
        "kind": r.get::<String, _>(3),
        "detail": r.get::<serde_json::Value, _>(4),
        "user": r.get::<Option<String>, _>(5),
    })
}

impl Store {
    /// Records a draw's witness contribution, once.
    pub async fn save_contribution(
        &self,
        raffle: &str,
        draw: &str,
        witness: &str,
        signature: &[u8],
    ) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO draw_contributions (raffle_id, draw_id, witness, signature) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(uuid(raffle)?)
        .bind(draw)
        .bind(witness)
        .bind(signature)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Refused(Refusal::ContributionAlreadySaved {
                draw: draw.to_string(),
            }));
        }
        Ok(())
    }

    pub async fn contribution(&self, raffle: &str, draw: &str) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT signature FROM draw_contributions WHERE raffle_id = $1 AND draw_id = $2",
        )
        .bind(uuid(raffle)?)
        .bind(draw)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The leaf index and bytes of a draw's `draw.frozen` entry.
    /// A raffle's entries other than sales (configuration, voids, draws,
    /// claims), in log order, with their leaf indices.
    pub async fn raffle_entries(&self, raffle: &str) -> Result<Vec<(u64, crate::entry::Entry)>> {
        let rows = sqlx::query(
            "SELECT idx, body FROM log_entries WHERE raffle_id = $1 AND kind <> 'sale' ORDER BY idx",
        )
        .bind(uuid(raffle)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let body: Vec<u8> = r.get(1);
                Ok((
                    r.get::<i64, _>(0) as u64,
                    crate::entry::Entry::parse(&body)?,
                ))
            })
            .collect()
    }

    pub async fn frozen_entry(&self, raffle: &str, draw: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT idx, body FROM log_entries WHERE raffle_id = $1 AND kind <> 'sale' AND kind = 'draw.frozen' ORDER BY idx")
            .bind(uuid(raffle)?)
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let body: Vec<u8> = r.get(1);
            if let crate::entry::Body::DrawFrozen(f) = crate::entry::Entry::parse(&body)?.body
                && f.draw == draw
            {
                return Ok(Some((r.get::<i64, _>(0) as u64, body)));
            }
        }
        Ok(None)
    }
}

/// Failed sign-ins from one address at one (attempted) username before
/// that address is locked out of it, and for how long.
pub const MAX_FAILURES_PER_ADDRESS: i32 = 5;
/// Failed sign-ins at one username, from any address, within the lock-out
/// time, past which every answer for it is slowed down (never refused).
pub const SLOW_DOWN_AFTER: i64 = 10;

impl Store {
    /// Whether `address` is locked out of `username_hash`; a lock that has
    /// expired is cleared, with its counter (the counter decays with it).
    pub async fn sign_in_locked(&self, username_hash: &[u8; 32], address: &str) -> Result<bool> {
        sqlx::query(
            "DELETE FROM sign_in_failures WHERE username_sha256 = $1 AND address = $2 \
             AND ((locked_until IS NOT NULL AND locked_until <= now()) \
                  OR last_failure < now() - make_interval(mins => $3))",
        )
        .bind(&username_hash[..])
        .bind(address)
        .bind(LOCKOUT_MINUTES)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sign_in_failures WHERE username_sha256 = $1 AND address = $2 AND locked_until > now())",
        )
        .bind(&username_hash[..])
        .bind(address)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Counts a failed sign-in of `address` at `username_hash`; the fifth
    /// locks that address out of it for 15 minutes.
    pub async fn record_sign_in_failure(
        &self,
        username_hash: &[u8; 32],
        address: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sign_in_failures (username_sha256, address, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (username_sha256, address) DO UPDATE SET failures = sign_in_failures.failures + 1, \
               last_failure = now(), \
               locked_until = CASE WHEN sign_in_failures.failures + 1 >= $3 \
                 THEN now() + make_interval(mins => $4) ELSE sign_in_failures.locked_until END",
        )
        .bind(&username_hash[..])
        .bind(address)
        .bind(MAX_FAILURES_PER_ADDRESS)
        .bind(LOCKOUT_MINUTES)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Failed sign-ins at `username_hash` from every address within the
    /// lock-out time.
    pub async fn recent_sign_in_failures(&self, username_hash: &[u8; 32]) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(sum(failures), 0)::bigint FROM sign_in_failures \
             WHERE username_sha256 = $1 AND last_failure > now() - make_interval(mins => $2)",
        )
        .bind(&username_hash[..])
        .bind(LOCKOUT_MINUTES)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Forgets the failures of `address` at `username_hash` (a sign-in succeeded).
    pub async fn clear_sign_in_failures(
        &self,
        username_hash: &[u8; 32],
        address: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE username_sha256 = $1 AND address = $2")
            .bind(&username_hash[..])
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Users whose TOTP secret is still stored in the clear (not `sealed1:`).
    pub async fn clear_totp_secrets(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id::text, totp_secret FROM users WHERE totp_secret NOT LIKE 'sealed1:%'",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Replaces a user's stored TOTP secret (with its sealed form).
    pub async fn replace_totp_secret(&self, user_id: &str, stored: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_secret = $2 WHERE id = $1")
            .bind(uuid(user_id)?)
            .bind(stored)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
