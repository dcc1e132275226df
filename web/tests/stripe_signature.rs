//! Webhook signatures against Stripe's own code: the official `stripe`
//! package from PyPI (installed by scripts/test) verifies the headers our
//! fake sends and `header_for` makes, and signs payloads our verifier must
//! accept; a tampered payload or a stale time fails in both.

use std::process::Command;
use web::app::stripe::signature::{header_for, verify};

const SECRET: &str = "whsec_3bX9kq2PZc7dV1mN8rT4yL6wE0aS5fGh";

/// Stripe's library on `payload` and `header`: "ok", or its exception.
fn python_verify(payload: &str, header: &str, tolerance: u32) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, stripe\n\
             try:\n    stripe.WebhookSignature.verify_header(sys.argv[1], sys.argv[2], sys.argv[3], tolerance=int(sys.argv[4]))\n    print('ok')\n\
             except stripe.SignatureVerificationError as e:\n    print('refused:', e)",
            payload,
            header,
            SECRET,
            &tolerance.to_string(),
        ])
        .output()
        .expect("python3 with the stripe package (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stripe's library signs `<t>.<payload>`.
fn python_sign(payload: &str, t: i64) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, stripe\n\
             print(stripe.WebhookSignature._compute_signature(sys.argv[2] + '.' + sys.argv[1], sys.argv[3]))",
            payload,
            &t.to_string(),
            SECRET,
        ])
        .output()
        .expect("python3 with the stripe package");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn now() -> i64 {
    raffle_core::Timestamp::now().as_secs()
}

const PAYLOAD: &str = r#"{"id":"evt_1Q2w3E4r5T6y","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_test_a1","amount_total":1000,"currency":"cad","name":"Élodie ☃"}}}"#;

#[test]
fn stripes_library_accepts_our_signatures_and_the_fakes() {
    let t = now();
    for header in [
        header_for(SECRET, t, PAYLOAD.as_bytes()),
        stripe_fake::sign(SECRET, t, PAYLOAD),
    ] {
        assert_eq!(python_verify(PAYLOAD, &header, 300), "ok", "{header}");
        // Changed by one byte, the payload is refused by both.
        let tampered = PAYLOAD.replace("1000", "1001");
        assert!(python_verify(&tampered, &header, 300).starts_with("refused"));
        assert!(verify(Some(&header), tampered.as_bytes(), &[SECRET.into()], t).is_err());
    }
    // Old: refused by both.
    let old = header_for(SECRET, t - 400, PAYLOAD.as_bytes());
    assert!(python_verify(PAYLOAD, &old, 300).starts_with("refused"));
    assert!(verify(Some(&old), PAYLOAD.as_bytes(), &[SECRET.into()], t).is_err());
}

#[test]
fn our_verifier_accepts_stripes_signatures() {
    let t = now();
    let v1 = python_sign(PAYLOAD, t);
    assert_eq!(v1.len(), 64, "{v1}");
    let header = format!("t={t},v1={v1}");
    assert_eq!(
        verify(Some(&header), PAYLOAD.as_bytes(), &[SECRET.into()], t),
        Ok(())
    );
    // As Stripe sends during a secret's roll: one v1 per secret.
    let other = python_sign(PAYLOAD, t).replace(&v1[..2], "zz");
    let rolled = format!("t={t},v1={other},v1={v1}");
    assert_eq!(
        verify(Some(&rolled), PAYLOAD.as_bytes(), &[SECRET.into()], t),
        Ok(())
    );
    assert_eq!(python_verify(PAYLOAD, &rolled, 300), "ok");
    assert_eq!(
        header,
        header_for(SECRET, t, PAYLOAD.as_bytes()),
        "the same bytes as ours"
    );
}
