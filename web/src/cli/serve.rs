//! Serving connections: plain HTTP/1.1, or HTTPS with rustls (TLS 1.2 and
//! 1.3 only) when a certificate and key are configured.
//!
//! Guarantees: a connection that takes longer than the header timeout to
//! send a request's headers (slowloris), or to finish its TLS handshake,
//! or that stays idle that long between requests, is cut; at most
//! `max_connections` are open at once (more wait in the kernel's backlog);
//! each request carries its peer's address ([`ConnectInfo`]) for the edge
//! ([`crate::edge`]).

use crate::AppState;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// A TLS acceptor from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("RAFFLE_TLS_CERT {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("RAFFLE_TLS_CERT {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "RAFFLE_TLS_CERT {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("RAFFLE_TLS_KEY {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        // TLS 1.2 and 1.3 only (GLI-31 6.4); rustls has nothing older.
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("RAFFLE_TLS_CERT and RAFFLE_TLS_KEY: {e}"))?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `state`'s application on `listener` until the process ends.
pub async fn serve(state: AppState, listener: TcpListener) -> Result<(), String> {
    let tls = match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let limits = state.config.limits.clone();
    let header_timeout = limits.header_timeout();
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let app = crate::router(state);
    loop {
        let permit = connections
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                tracing::error!(error = %e, "accepting a connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // TCP_NODELAY: a file under /log/ is written as headers then body,
        // and without it each response of a keep-alive connection waits for
        // the client's delayed ACK (40 ms a tile, measured with raffle-audit).
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let served = match tls {
                None => {
                    http.serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            http.serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await
                        }
                        // A failed or slow handshake (an old protocol version, a scanner).
                        _ => return,
                    }
                }
            };
            let _ = served;
        });
    }
}
