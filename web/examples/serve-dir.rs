//! Serves a directory over HTTP, optionally answering each request after a
//! delay, to measure `raffle-audit log` against a remote log (a CDN or S3
//! bucket 20 to 100 ms away) on one machine:
//!
//! ```text
//! cargo run --release -p web --example serve-dir -- /tmp/log1m 127.0.0.1:8765 20
//! raffle-audit log http://127.0.0.1:8765/ --vkey ...
//! ```

use std::time::Duration;
use tower_http::services::ServeDir;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(listen)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: serve-dir <DIR> <ADDR> [DELAY_MS]");
        std::process::exit(2);
    };
    let delay = Duration::from_millis(args.get(3).and_then(|d| d.parse().ok()).unwrap_or(0));
    let app = axum::Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                tokio::time::sleep(delay).await;
                next.run(req).await
            },
        ));
    use axum::serve::ListenerExt as _;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap()
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    eprintln!(
        "serving {dir} on http://{listen}/ with {} ms per request",
        delay.as_millis()
    );
    axum::serve(listener, app).await.unwrap();
}
