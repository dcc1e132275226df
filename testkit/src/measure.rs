//! Helpers shared by the measuring binaries (`load-purchases`,
//! `bench-draw`, `bench-pages`) and the tests that run `raffled` as a
//! process: CPU time read from `/proc`, a free local port, a `raffled
//! serve` process and JSON calls to its API, and the verification of the
//! log a server of their own published.

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
    let code = web::app::auth::totp_now(secret).map_err(|e| e.message)?;
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

/// A scratch `raffled serve` of a measuring binary: the `raffled` built
/// beside it, a data directory (removed when dropped), a database name on
/// `server` (drop it with [`crate::db::drop_database_on`]) and the environment to start
/// it with.
pub struct Scratch {
    pub raffled: std::path::PathBuf,
    pub data: tempfile::TempDir,
    pub db: String,
    pub env: Vec<(&'static str, String)>,
}

impl Scratch {
    /// `name` prefixes the database's name (the process id follows).
    pub fn new(server: &str, name: &str) -> Result<Scratch, String> {
        let raffled = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("raffled");
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let db = format!("{name}_{}", std::process::id());
        let env = vec![
            ("DATABASE_URL", format!("{server}/{db}")),
            ("RAFFLE_LISTEN", format!("127.0.0.1:{}", free_local_port()?)),
            ("RAFFLE_DATA_DIR", data.path().display().to_string()),
            // The measuring binaries buy with the test provider (no money
            // moves), from one address: the flag, and per-address limits
            // raised for the run.
            ("RAFFLE_PAYMENT_PROVIDERS", "test".into()),
            ("RAFFLE_ALLOW_TEST_PAYMENTS", "true".into()),
            ("RAFFLE_RATE_PURCHASES", "1000000000".into()),
            ("RAFFLE_RATE_SIGN_IN", "1000000".into()),
        ];
        Ok(Scratch {
            raffled,
            data,
            db,
            env,
        })
    }
}

/// A client for many requests at once to one server.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())
}

/// The bootstrapped administrator ([`bootstrap_administrator`]) signed in.
pub async fn administrator_session(
    client: &reqwest::Client,
    base: &str,
    admin: &Value,
) -> Result<String, String> {
    let s = |k: &str| admin[k].as_str().unwrap_or_default().to_string();
    sign_in(
        client,
        base,
        &s("username"),
        &s("password"),
        &s("totp_secret"),
    )
    .await
}

/// A user with `role`, created by an administrator over the API (the
/// organisation's only one: no second approval), enrolled through the API
/// as a scripted deployment does (the one-time code, a password of their
/// own, the TOTP secret confirmed), signed in: their session token.
pub async fn staff_session(
    client: &reqwest::Client,
    base: &str,
    admin_token: &str,
    name: &str,
    role: &str,
) -> Result<String, String> {
    let u = expect(
        "creating a user",
        201,
        call(
            client,
            reqwest::Method::POST,
            format!("{base}/api/v1/users"),
            Some(admin_token),
            json!({ "username": name, "roles": [role] }),
        )
        .await,
    )
    .await?;
    let code = u["enrolment_code"].as_str().unwrap_or_default().to_string();
    let s = expect(
        "signing in with the enrolment code",
        201,
        call(
            client,
            reqwest::Method::POST,
            format!("{base}/api/v1/sessions"),
            None,
            json!({ "username": name, "password": code, "totp": "" }),
        )
        .await,
    )
    .await?;
    let token = s["token"].as_str().unwrap_or_default().to_string();
    let password = web::app::auth::random_token::<18>().map_err(|e| e.message)?;
    let secret = expect(
        "setting a password",
        200,
        call(
            client,
            reqwest::Method::POST,
            format!("{base}/api/v1/enrolment/password"),
            Some(&token),
            json!({ "password": password }),
        )
        .await,
    )
    .await?;
    let secret = secret["totp_secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let totp = web::app::auth::totp_now(&secret).map_err(|e| e.message)?;
    expect(
        "confirming the authenticator",
        200,
        call(
            client,
            reqwest::Method::POST,
            format!("{base}/api/v1/enrolment/totp"),
            Some(&token),
            json!({ "code": totp }),
        )
        .await,
    )
    .await?;
    Ok(token)
}

/// The schema's example raffle with one draw, `main`, whose cutoff is the
/// end of sales, one package (`id`: `tickets` numbers for `price_minor` in
/// the example's currency), and no ticket limit; on sale from a second ago
/// until `sales_end`.
pub fn one_draw_raffle(
    sales_end: raffle_core::Timestamp,
    id: &str,
    tickets: u32,
    price_minor: u64,
) -> Result<raffle_core::entry::RaffleConfig, String> {
    let mut c = crate::raffles::one_draw(crate::raffles::in_secs(-1), sales_end);
    c.packages = vec![raffle_core::entry::Package {
        id: id.parse().expect("a package id"),
        tickets,
        price: raffle_core::Money::new(price_minor, c.packages[0].price.currency),
    }];
    Ok(c)
}

/// Creates and opens a raffle as `manager`; its id.
pub async fn open_raffle(
    client: &reqwest::Client,
    base: &str,
    manager: &str,
    config: &raffle_core::entry::RaffleConfig,
) -> Result<String, String> {
    use reqwest::Method;
    let v = expect(
        "creating the raffle",
        201,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles"),
            Some(manager),
            json!({ "config": config }),
        )
        .await,
    )
    .await?;
    let raffle = v["id"].as_str().unwrap_or_default().to_string();
    expect(
        "opening the raffle",
        200,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles/{raffle}/open"),
            Some(manager),
            Value::Null,
        )
        .await,
    )
    .await?;
    Ok(raffle)
}

/// `sales` purchases of `body` (JSON) in `raffle`, by 128 buyers in a
/// closed loop; fails at the first purchase not answered 201.
pub async fn buy_in_closed_loop(
    client: &reqwest::Client,
    base: &str,
    raffle: &str,
    body: &Value,
    sales: u64,
) -> Result<(), String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let next = Arc::new(AtomicU64::new(0));
    let url = Arc::new(format!("{base}/api/v1/raffles/{raffle}/purchases"));
    let body = Arc::new(body.to_string());
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..128 {
        let (next, url, body, client) = (next.clone(), url.clone(), body.clone(), client.clone());
        buyers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < sales {
                let r = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(body.as_str().to_string())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().as_u16() != 201 {
                    return Err(format!(
                        "purchase: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ));
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = buyers.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
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
