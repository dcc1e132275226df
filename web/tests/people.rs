//! The account lifecycle (issue 11, hole 4 and "People"): a second
//! administrator approves changes to people once there are two, one-time
//! enrolment codes reach only the approver, enrolment through the API,
//! password change, credential reset, disabling and session revocation.

use testkit::app as common;

use axum::http::StatusCode;
use common::{App, app, approve, call, drop_database, enrol_with_code};
use serde_json::{Value, json};
use web::app::auth::totp_now;

/// A user made directly in the store (enrolled), signed in.
async fn user(app: &App, name: &str, roles: &[&str]) -> (String, String, String) {
    let s = common::signed_in(app, name, roles).await;
    (s.token, s.password, s.user.id.to_string())
}

async fn events_text(app: &App) -> String {
    let rows: Vec<String> = sqlx::query_scalar("SELECT detail::text FROM events")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    rows.join("\n")
}

/// Hole 4: with two administrators, one cannot create a user and hold
/// their sign-in (to approve their own voids through them): the request
/// waits for the other, who alone sees the one-time code; no answer
/// carries a password or TOTP secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_cannot_approve_through_a_user_they_created() {
    let app = app().await;
    let (alice, _, alice_id) = user(&app, "alice", &["administrator", "finance"]).await;
    let (bert, _, _) = user(&app, "bert", &["administrator"]).await;
    let (status, pending) = call(
        &app,
        "POST",
        "/api/v1/users",
        Some(&alice),
        json!({ "username": "xavier", "roles": ["finance"] }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    for secret in ["password", "totp_secret", "enrolment_code"] {
        assert!(pending.get(secret).is_none(), "{secret} in {pending}");
    }
    assert!(
        app.state
            .store
            .user_by_name("xavier")
            .await
            .unwrap()
            .is_none(),
        "not before approval"
    );
    // The requester cannot approve; a finance user who is no administrator neither.
    assert_eq!(
        approve(&app, &pending, &alice).await.0,
        StatusCode::FORBIDDEN
    );
    let (fin, _, _) = user(&app, "fiona", &["finance"]).await;
    assert_eq!(approve(&app, &pending, &fin).await.0, StatusCode::FORBIDDEN);
    // The second administrator approves and alone gets the code.
    let (status, approved) = approve(&app, &pending, &bert).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let code = approved["enrolment_code"].as_str().unwrap().to_string();
    assert!(approved.get("totp_secret").is_none() && approved.get("password").is_none());
    assert_eq!(
        approve(&app, &pending, &bert).await.0,
        StatusCode::CONFLICT,
        "decided twice"
    );
    // Nothing the requester can read carries the code: the events, the user list.
    assert!(!events_text(&app).await.contains(&code));
    let (_, users) = call(&app, "GET", "/api/v1/users", Some(&alice), Value::Null).await;
    assert!(!users.to_string().contains(&code), "{users}");
    // Xavier enrols with it, setting his own password and authenticator.
    let xavier = enrol_with_code(&app, "xavier", &code).await;
    let (status, _) = call(&app, "GET", "/api/v1/sessions", Some(&xavier), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // The code is spent: it signs nobody in again.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "xavier", "password": code, "totp": "" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nor can she disable Bert to be the only administrator left.
    let bert_id = app
        .state
        .store
        .user_by_name("bert")
        .await
        .unwrap()
        .unwrap()
        .id;
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{bert_id}/disable"),
        Some(&alice),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let (status, _) = call(&app, "GET", "/api/v1/sessions", Some(&bert), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "still enabled");
    assert_eq!(app.state.store.administrator_count().await.unwrap(), 2);
    // Alice cannot grant herself (or anyone) roles alone either.
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{alice_id}/roles"),
        Some(&alice),
        json!({ "roles": ["administrator", "finance", "raffle_manager"] }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let me = app
        .state
        .store
        .user_by_id(&alice_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        me.roles,
        vec![raffle_core::Role::Administrator, raffle_core::Role::Finance]
    );
    let (status, _) = approve(&app, &v, &bert).await;
    assert_eq!(status, StatusCode::OK);
    let me = app
        .state
        .store
        .user_by_id(&alice_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.roles.len(), 3);
    drop_database(&app.db).await;
}

/// A scripted deployment's first sign-in: the one-time code opens only the
/// enrolment steps, in order; the secret is shown to that session alone;
/// an expired code opens nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_through_the_api_opens_other_routes_only_once_done() {
    let app = app().await;
    let (root, _, _) = user(&app, "root", &["administrator"]).await;
    // One administrator: created at once, the code to the creator (201).
    let (status, created) = call(
        &app,
        "POST",
        "/api/v1/users",
        Some(&root),
        json!({ "username": "nina", "roles": ["auditor"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["enrolment_code"].as_str().unwrap().to_string();
    let (status, s) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "nina", "password": code, "totp": "" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let token = s["token"].as_str().unwrap().to_string();
    // No other route before enrolment is done.
    let (status, v) = call(&app, "GET", "/api/v1/events", Some(&token), Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"].as_str().unwrap().contains("enrolment"), "{v}");
    // A password of her own comes first, and a weak one is refused.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/enrolment/totp",
        Some(&token),
        json!({ "code": "123456" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/enrolment/password",
        Some(&token),
        json!({ "password": "short" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/enrolment/password",
        Some(&token),
        json!({ "password": "nina's own long password" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let secret = v["totp_secret"].as_str().unwrap().to_string();
    assert!(v["otpauth_uri"].as_str().unwrap().contains(&secret));
    // Once: a stolen enrolment session cannot re-key the account.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/enrolment/password",
        Some(&token),
        json!({ "password": "somebody else's password" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The secret is stored sealed and was never in the creator's answer.
    assert!(!created.to_string().contains(&secret));
    let wrong = if totp_now(&secret).unwrap() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/enrolment/totp",
        Some(&token),
        json!({ "code": wrong }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/enrolment/totp",
        Some(&token),
        json!({ "code": totp_now(&secret).unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&token), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "the same session, now enrolled");
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/enrolment/password",
        Some(&token),
        json!({ "password": "another long password" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "enrolled already");
    // An expired code opens nothing, answered as a wrong password.
    let (_, late) = call(
        &app,
        "POST",
        "/api/v1/users",
        Some(&root),
        json!({ "username": "otto", "roles": ["auditor"] }),
    )
    .await;
    sqlx::query("UPDATE users SET enrol_by = now() - interval '1 second' WHERE username = 'otto'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "otto", "password": late["enrolment_code"], "totp": "" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    drop_database(&app.db).await;
}

/// Password change, session revocation, disabling and a credential reset
/// approved by another administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_change_sessions_end_users_disable_and_resets_need_a_second_administrator() {
    let app = app().await;
    let (root, _, root_id) = user(&app, "root", &["administrator"]).await;
    let (ann, password, ann_id) = user(&app, "ann", &["auditor"]).await;
    // The last enabled administrator cannot be disabled.
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{root_id}/disable"),
        Some(&root),
        Value::Null,
    )
    .await;
    assert!(status.is_client_error(), "{status} {v}");
    // A second session of Ann's, then a password change from the first.
    let secret = {
        let u = app.state.store.user_by_id(&ann_id).await.unwrap().unwrap();
        web::app::auth::open_totp(&app.state, &u.totp_secret).unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_secs(31)).await; // the next TOTP step
    let (status, s2) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "ann", "password": password, "totp": totp_now(&secret).unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s2}");
    let ann2 = s2["token"].as_str().unwrap().to_string();
    let (_, list) = call(&app, "GET", "/api/v1/sessions", Some(&ann), Value::Null).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    // Someone else's session is not hers to end (answered as unknown).
    let (other, other_password, _) = user(&app, "otto", &["auditor"]).await;
    let theirs = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/sessions/{theirs}"),
        Some(&other),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann2), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/sessions/{theirs}"),
        Some(&ann),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann2), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the revoked session");
    // A wrong current password changes nothing.
    let change = |current: &str| json!({ "current_password": current, "new_password": "ann's brand new password" });
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/account/password",
        Some(&ann),
        change("wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/account/password",
        Some(&ann),
        change(&password),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "the session that changed it stays");
    // Disabled: her session ends and she cannot sign in, answered as unknown.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{ann_id}/disable"),
        Some(&root),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, refused) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "ann", "password": "ann's brand new password", "totp": totp_now(&secret).unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    // With two administrators, enabling and resetting wait for the other.
    let (bert, _, _) = user(&app, "bert", &["administrator"]).await;
    let (status, pending) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{ann_id}/enable"),
        Some(&root),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(approve(&app, &pending, &bert).await.0, StatusCode::OK);
    let (status, pending) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{ann_id}/reset"),
        Some(&root),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    assert!(pending.get("enrolment_code").is_none());
    let (status, reset) = approve(&app, &pending, &bert).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let code = reset["enrolment_code"].as_str().unwrap();
    // The old password opens nothing now; the code starts a new enrolment.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "ann", "password": "ann's brand new password", "totp": totp_now(&secret).unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ann = enrol_with_code(&app, "ann", code).await;
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // Ending every session of a user (administrators only).
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/users/{ann_id}/sessions"),
        Some(&other),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = call(
        &app,
        "DELETE",
        &format!("/api/v1/users/{ann_id}/sessions"),
        Some(&root),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ended"], 1);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&ann), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A stolen session cannot guess the password: wrong current passwords
    // lock this address out like failed sign-ins, the right one included.
    for _ in 0..5 {
        let (status, _) = call(
            &app,
            "POST",
            "/api/v1/account/password",
            Some(&other),
            change("guess"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/account/password",
        Some(&other),
        change(&other_password),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "locked out, the right password too"
    );
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'password_change_failed'")
            .fetch_one(&app.state.store.pool)
            .await
            .unwrap();
    assert_eq!(
        failures, 6,
        "Ann's one wrong try and otto's five; none while locked"
    );
    drop_database(&app.db).await;
}
