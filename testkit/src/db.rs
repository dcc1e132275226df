//! Scratch PostgreSQL databases: one per test or measuring run, named
//! `raffle_test_<uuid>` (or a caller's prefix), dropped by name when done.
//! `scripts/test` drops the `raffle_test_*` databases a failed run left.
//!
//! Assumes a server that trusts local connections (`TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432`): each database is made by
//! the store's first connection (`Store::connect` creates a missing one).

use sqlx::ConnectOptions;

/// The database server's URL, without a database.
pub fn server() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    format!("{}/{name}", server())
}

/// A new database's URL and name (not created yet: the store creates it).
pub fn fresh_database() -> (String, String) {
    let name = format!(
        "raffle_test_{}",
        raffle_core::ids::new_uuid().replace('-', "")
    );
    (database_url(&name), name)
}

/// Drops database `name` on the test server, ending its connections.
/// Panics if the server cannot be reached (a test's clean-up must not
/// fail silently).
pub async fn drop_database(name: &str) {
    drop_database_on(&server(), name)
        .await
        .unwrap_or_else(|e| panic!("dropping {name}: {e}"));
}

/// Drops database `name` on `server` (a URL without a database).
pub async fn drop_database_on(server: &str, name: &str) -> Result<(), String> {
    let opts: sqlx::postgres::PgConnectOptions = format!("{server}/postgres")
        .parse()
        .map_err(|e| format!("{server}: {e}"))?;
    let mut conn = opts.connect().await.map_err(|e| e.to_string())?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}
