//! Stripe's webhook signatures, verified exactly as Stripe signs them.
//!
//! Stripe sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
//! where each `v1` is HMAC-SHA256, keyed by an endpoint's signing secret
//! (`whsec_...`, used as the literal bytes of the whole string), over
//! `<t>.<raw body>`. An event is genuine when some `v1` matches some
//! configured secret (several are valid at once while a secret is rolled)
//! and `t` is within [`TOLERANCE_SECS`] of now, which bounds replays of a
//! captured delivery (an event replayed inside the window is stored once
//! per event id anyway). Other schemes (`v0`, Stripe's test scheme) are
//! ignored, as Stripe's own libraries do. Comparison is constant time.
//!
//! Checked against the official `stripe` package from PyPI in
//! `web/tests/stripe_signature.rs`.

use hmac::{KeyInit as _, Mac as _};

/// How far the signed time may be from now, either way (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (the webhook answers 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1,
    #[error("the signature's time is {0} s from now, outside the {TOLERANCE_SECS} s tolerance")]
    Stale(i64),
    #[error("no v1 signature matches a configured webhook signing secret")]
    NoMatch,
}

/// Checks `header` (the Stripe-Signature value) over `payload` against
/// each of `secrets`, at `now` (unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > 8192 {
        return Err(SignatureError::Malformed("longer than 8 KiB"));
    }
    let mut time: Option<&str> = None;
    let mut v1: Vec<[u8; 32]> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            return Err(SignatureError::Malformed("an item without '='"));
        };
        match k {
            "t" => time = Some(v),
            // A v1 that is not 32 bytes of hex cannot match: skip it.
            "v1" => {
                if let Ok(bytes) = hex::decode(v)
                    && let Ok(sig) = <[u8; 32]>::try_from(bytes)
                {
                    v1.push(sig);
                }
            }
            _ => {}
        }
    }
    let time = time.ok_or(SignatureError::Malformed("no t= timestamp"))?;
    let t: i64 = time
        .parse()
        .map_err(|_| SignatureError::Malformed("t= is not an integer"))?;
    if v1.is_empty() {
        return Err(SignatureError::NoV1);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = sign_raw(secret, time, payload);
        v1.iter().any(|given| constant_time_eq(given, &expected))
    });
    if !matched {
        return Err(SignatureError::NoMatch);
    }
    // Checked after the match, as Stripe's libraries do, so that a stale
    // but genuine delivery is told apart from a forged one.
    let skew = now.saturating_sub(t);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    Ok(())
}

/// HMAC-SHA256 of `<t>.<payload>` keyed by `secret`.
fn sign_raw(secret: &str, t: &str, payload: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// The `Stripe-Signature` value Stripe would send for `payload` at `t`
/// (used by the tests, and by the webhook benchmark).
pub fn header_for(secret: &str, t: i64, payload: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(sign_raw(secret, &t.to_string(), payload))
    )
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    #[test]
    fn accepts_any_configured_secret_and_any_v1() {
        let h = header_for(SECRET, 1_000, BODY);
        let secrets = vec!["whsec_old".to_string(), SECRET.to_string()];
        assert_eq!(verify(Some(&h), BODY, &secrets, 1_000), Ok(()));
        // Stripe sends one v1 per active secret while one is rolled.
        let both = format!("{h},v1={}", "00".repeat(32));
        assert_eq!(verify(Some(&both), BODY, &secrets, 1_100), Ok(()));
        let with_v0 = format!("{h},v0={}", "11".repeat(32));
        assert_eq!(verify(Some(&with_v0), BODY, &secrets, 1_000), Ok(()));
    }

    #[test]
    fn refuses_forged_stale_and_malformed() {
        let h = header_for(SECRET, 1_000, BODY);
        let secrets = vec![SECRET.to_string()];
        assert_eq!(
            verify(Some(&h), b"{}", &secrets, 1_000),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(Some(&h), BODY, &["whsec_other".into()], 1_000),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(Some(&h), BODY, &secrets, 1_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(Some(&h), BODY, &secrets, 699),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(verify(Some(&h), BODY, &secrets, 1_300), Ok(()));
        assert_eq!(
            verify(None, BODY, &secrets, 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000"), BODY, &secrets, 1_000),
            Err(SignatureError::NoV1)
        );
        assert!(matches!(
            verify(Some("v1=00"), BODY, &secrets, 1_000),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("t=x,v1=00"), BODY, &secrets, 1_000),
            Err(SignatureError::Malformed(_))
        ));
        // No secret configured: nothing is genuine.
        assert_eq!(
            verify(Some(&h), BODY, &[], 1_000),
            Err(SignatureError::NoMatch)
        );
    }
}
