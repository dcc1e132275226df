//! Helpers shared by the measuring binaries (`load-purchases`,
//! `bench-draw`, `bench-pages`) and the tests that run `raffled`: CPU time
//! read from `/proc`, a free local port, the clean-up of the scratch
//! database, a `raffled serve` process and JSON calls to its API, and the
//! verification of the log a server of their own published.

use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// utime + stime of a process, in microseconds (read in clock ticks of
/// 10 ms).
pub fn process_cpu_us(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces: fields are counted after its ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    ticks * 1_000_000 / 100
}

/// CPU time of every PostgreSQL process on the machine, in microseconds.
pub fn postgres_cpu_us() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += process_cpu_us(pid);
        }
    }
    total
}

/// A local TCP port free at the time of asking.
pub fn free_local_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Drops a scratch database (`server` is the URL without a database).
pub async fn drop_database(server: &str, name: &str) {
    if let Ok(opts) = format!("{server}/postgres").parse::<sqlx::postgres::PgConnectOptions>()
        && let Ok(mut conn) = sqlx::ConnectOptions::connect(&opts).await
    {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// What [`verify_own_publications`] gives back: the store, the key it
/// verified with, and the report.
pub type Verified = (
    transparency::store::DirStorage,
    transparency::NoteVerifier,
    transparency::fsck::FsckReport,
);

/// Verifies the log published in `publications` as a whole, with the key
/// published beside it: for harnesses checking their own server's output
/// (an auditor takes the key from elsewhere).
pub fn verify_own_publications(publications: &std::path::Path) -> Result<Verified, String> {
    let vkey_text = std::fs::read_to_string(publications.join("vkey"))
        .map_err(|e| format!("reading {}: {e}", publications.join("vkey").display()))?;
    let vkey =
        transparency::NoteVerifier::from_vkey(vkey_text.trim()).map_err(|e| e.to_string())?;
    let storage =
        transparency::store::DirStorage::new(publications, false).map_err(|e| e.to_string())?;
    let report = transparency::fsck::verify_log(&storage, &vkey, 2)
        .map_err(|e| format!("the published log does not verify: {e}"))?;
    Ok((storage, vkey, report))
}

/// A `raffled serve` process (killed when dropped) and its base URL.
pub struct Server {
    pub child: tokio::process::Child,
    pub base: String,
}

/// Starts `raffled serve` with `env` and waits until it answers.
pub async fn start_server(
    raffled: &std::path::Path,
    env: &[(&str, String)],
    client: &reqwest::Client,
) -> Result<Server, String> {
    let mut cmd = tokio::process::Command::new(raffled);
    cmd.arg("serve").stdout(Stdio::null()).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", raffled.display()))?;
    let listen = &env
        .iter()
        .find(|(k, _)| *k == "RAFFLE_LISTEN")
        .expect("listen")
        .1;
    let base = format!("http://{listen}");
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/api/v1/raffles")).send().await
            && r.status().is_success()
        {
            return Ok(Server { child, base });
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("raffled did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One JSON call; the status and the answer (JSON, or its text).
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<(u16, Value), String> {
    let mut req = client.request(method, &url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if !body.is_null() {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The answer of a call that must have status `wanted`.
pub async fn expect(
    what: &str,
    wanted: u16,
    result: Result<(u16, Value), String>,
) -> Result<Value, String> {
    let (status, v) = result?;
    if status != wanted {
        return Err(format!("{what}: {status} {v}"));
    }
    Ok(v)
}

/// Signs in over the API with the user's current TOTP code; the session token.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    secret: &str,
) -> Result<String, String> {
    let code = crate::auth::totp_now(secret).map_err(|e| e.message)?;
    let v = expect(
        "sign-in",
        201,
        call(
            client,
            reqwest::Method::POST,
            format!("{base}/api/v1/sessions"),
            None,
            json!({ "username": user, "password": password, "totp": code }),
        )
        .await,
    )
    .await?;
    Ok(v["token"].as_str().unwrap_or_default().to_string())
}

/// The first administrator, as an operator would create it (`raffled admin
/// bootstrap --json`): username, password and TOTP secret.
pub async fn bootstrap_administrator(
    raffled: &std::path::Path,
    env: &[(&str, String)],
) -> Result<Value, String> {
    let out = tokio::process::Command::new(raffled)
        .args(["admin", "bootstrap", "--json"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "raffled admin bootstrap: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_cpu_time_grows_while_we_spin() {
        let me = std::process::id();
        let before = process_cpu_us(me);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while process_cpu_us(me) < before + 20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            assert!(started.elapsed().as_secs() < 20, "CPU time never grew");
        }
        std::hint::black_box(x);
        assert_eq!(process_cpu_us(u32::MAX), 0, "no such process");
    }
}
