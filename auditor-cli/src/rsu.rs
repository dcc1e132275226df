//! The sales-unit (RSU) formats of schema version 4, written again from
//! `docs/entry-schema.md` ("Sales units"), not taken from the server's
//! code, so that one bug cannot hide itself (a test checks that both give
//! the same bytes):
//!
//! - a device signs its sale record as the UTF-8 lines
//!   `raffle-rsu-sale/v1`, the log origin, raffle, RSU, sequence, previous
//!   hash, package, quantity, first number, count, `<price minor>
//!   <currency>`, payment, validation commitment, device time and
//!   operator, each ending in `\n`;
//! - a record's hash, which the next record names as `prev`, is
//!   SHA-256(message || signature); zeros before record 1;
//! - a seal is `raffle-rsu-seal/v1`, origin, raffle, draw, RSU, sequence,
//!   hash and device time, in lines;
//! - a reprint is `raffle-rsu-reprint/v1`, origin, raffle, RSU, the sale's
//!   sequence, copy, operator, supervisor and device time, in lines;
//! - an RSU sale's id is the first 16 bytes of
//!   SHA-256(`raffle-rsu-sale-id/v1\n<rsu>\n<seq>\n`) as a UUID, version
//!   nibble 8, variant bits `10`;
//! - signatures are Ed25519, verified strictly (no malleable or
//!   small-order forms).

use ed25519_dalek::{Signature, VerifyingKey};
use raffle_core::Timestamp;
use raffle_core::entry::{RsuRecord, RsuSealed, Sale};
use sha2::{Digest, Sha256};

/// The most reprints of one sale.
pub const MAX_REPRINTS: u32 = 3;

/// What a device's first record names as its previous one.
pub const GENESIS: [u8; 32] = [0; 32];

/// How far (300 s) a device time may run ahead of the server's receipt.
pub const MAX_SKEW_MICROS: i64 = 300_000_000;

/// The lines, each ending in a newline.
fn lines(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        out.extend_from_slice(p.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The message a device signs for a sale record.
pub fn sale_message(origin: &str, r: &RsuRecord) -> Vec<u8> {
    lines(&[
        "raffle-rsu-sale/v1",
        origin,
        r.raffle.as_str(),
        r.rsu.as_str(),
        &r.seq.0.to_string(),
        &hex::encode(r.prev.0),
        r.package.as_str(),
        &r.quantity.to_string(),
        &r.numbers.first.0.to_string(),
        &r.numbers.count.0.to_string(),
        &format!("{} {}", r.price.minor, r.price.currency.as_str()),
        r.payment.as_str(),
        &hex::encode(r.validation.0),
        &r.device_time.to_string(),
        r.operator.as_str(),
    ])
}

/// A record's hash: SHA-256(message || signature).
pub fn record_hash(origin: &str, r: &RsuRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(sale_message(origin, r));
    h.update(&r.signature.0);
    h.finalize().into()
}

/// The message a device signs to seal its chain for a draw's cutoff.
pub fn seal_message(origin: &str, s: &RsuSealed) -> Vec<u8> {
    lines(&[
        "raffle-rsu-seal/v1",
        origin,
        s.raffle.as_str(),
        s.draw.as_str(),
        s.rsu.as_str(),
        &s.seq.0.to_string(),
        &hex::encode(s.hash.0),
        &s.device_time.to_string(),
    ])
}

/// The message a device signs for a reprint: `raffle-rsu-reprint/v1`,
/// origin, raffle, RSU, the sale's sequence, copy, operator, supervisor
/// and device time, in lines.
pub fn reprint_message(origin: &str, r: &raffle_core::entry::RsuReprinted) -> Vec<u8> {
    lines(&[
        "raffle-rsu-reprint/v1",
        origin,
        r.raffle.as_str(),
        r.rsu.as_str(),
        &r.seq.0.to_string(),
        &r.copy.to_string(),
        r.operator.as_str(),
        r.supervisor.as_str(),
        &r.device_time.to_string(),
    ])
}

/// The sale id of record `seq` of device `rsu`, as a hyphenated UUID.
pub fn sale_id(rsu: &str, seq: u64) -> String {
    let d = Sha256::digest(format!("raffle-rsu-sale-id/v1\n{rsu}\n{seq}\n").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The record an RSU `sale` entry carries, rebuilt from the entry: the
/// sale's fields, `stamped` as the device time, and its `device` part.
pub fn record_of_sale(s: &Sale) -> Option<RsuRecord> {
    let d = s.device.as_ref()?;
    Some(RsuRecord {
        raffle: s.raffle.clone(),
        rsu: s.rsu.clone()?,
        seq: d.seq,
        prev: d.prev,
        package: s.package.clone(),
        quantity: s.quantity,
        numbers: s.numbers,
        price: s.price,
        payment: d.payment,
        validation: s.validation,
        device_time: s.stamped,
        operator: d.operator.clone(),
        signature: d.signature.clone(),
    })
}

/// A device key fit to enrol: a valid curve point, not of small order.
pub fn usable_key(key: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(key).ok().filter(|k| !k.is_weak())
}

/// Whether `signature` is `key`'s over `message` (strict Ed25519).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

/// The latest device time a record received at `received` may carry.
pub fn latest_device_time(received: Timestamp) -> Timestamp {
    Timestamp::from_micros(received.as_micros().saturating_add(MAX_SKEW_MICROS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use raffle_core::entry::{Digest32, HexBytes, NumberRange, PaymentMethod, U64};
    use raffle_core::rsu as server;
    use raffle_core::{Currency, Money};

    fn records() -> Vec<RsuRecord> {
        let base = RsuRecord {
            raffle: "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10".parse().unwrap(),
            rsu: "gate-3".parse().unwrap(),
            seq: U64(1),
            prev: Digest32(GENESIS),
            package: "p1".parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(1001),
                count: U64(1),
            },
            price: Money::new(500, Currency::CAD),
            payment: PaymentMethod::Cash,
            validation: Digest32([7; 32]),
            device_time: Timestamp::parse("2026-12-05T18:00:00.000000Z").unwrap(),
            operator: "s_5c2e8b1f0a7d3964".parse().unwrap(),
            signature: HexBytes(vec![]),
        };
        let key = server::DeviceKey::from_seed(&[9; 32]);
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for (i, (package, quantity, count, minor)) in [
            ("p1", 1, 1, 500),
            ("p3", 2, 6, 2000),
            ("p10", 1, 10, 2000),
            ("p1", 7, 7, 3500),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = base.clone();
            r.seq = U64(i as u64 + 1);
            r.prev = Digest32(prev);
            r.package = package.parse().unwrap();
            r.quantity = quantity;
            r.numbers.first = U64(1001 + 100 * i as u64);
            r.numbers.count = U64(count);
            r.price = Money::new(minor, Currency::CAD);
            r.payment = if i % 2 == 0 {
                PaymentMethod::Cash
            } else {
                PaymentMethod::Card
            };
            r.validation = Digest32([i as u8 * 31; 32]);
            r.device_time =
                Timestamp::from_micros(r.device_time.as_micros() + 1_234_567 * i as i64);
            prev = key.sign_record("example.org/log", &mut r);
            out.push(r);
        }
        out
    }

    #[test]
    fn the_formats_agree_with_the_servers() {
        for origin in ["example.org/log", "raffles.example/log"] {
            for r in records() {
                assert_eq!(
                    sale_message(origin, &r),
                    server::sale_message(origin, &r),
                    "{}",
                    String::from_utf8_lossy(&sale_message(origin, &r))
                );
                assert_eq!(record_hash(origin, &r), server::record_hash(origin, &r));
                for rsu in ["gate-3", "a", "kiosk-17"] {
                    let id = server::sale_id(&rsu.parse().unwrap(), r.seq.0);
                    assert_eq!(sale_id(rsu, r.seq.0), id.as_str());
                }
                let mut seal = RsuSealed {
                    raffle: r.raffle.clone(),
                    draw: "early-bird".parse().unwrap(),
                    rsu: r.rsu.clone(),
                    seq: r.seq,
                    hash: Digest32(record_hash(origin, &r)),
                    device_time: r.device_time,
                    signature: HexBytes(vec![]),
                };
                assert_eq!(
                    seal_message(origin, &seal),
                    server::seal_message(origin, &seal)
                );
                let key = server::DeviceKey::from_seed(&[4; 32]);
                key.sign_seal(origin, &mut seal);
                let vk = usable_key(&key.public()).unwrap();
                assert!(verify(&vk, &seal_message(origin, &seal), &seal.signature.0));
            }
        }
        assert_eq!(sale_id("gate-3", u64::MAX).len(), 36);
    }

    #[test]
    fn a_device_signature_verifies_only_over_its_own_record() {
        let key = server::DeviceKey::from_seed(&[9; 32]);
        let vk = usable_key(&key.public()).unwrap();
        let rs = records();
        for (i, r) in rs.iter().enumerate() {
            let msg = sale_message("example.org/log", r);
            assert!(verify(&vk, &msg, &r.signature.0));
            assert!(!verify(
                &vk,
                &sale_message("other.example/log", r),
                &r.signature.0
            ));
            assert!(!verify(&vk, &msg, &r.signature.0[..63]));
            let other = &rs[(i + 1) % rs.len()];
            assert!(!verify(&vk, &msg, &other.signature.0));
            if i > 0 {
                assert_eq!(r.prev.0, record_hash("example.org/log", &rs[i - 1]));
            }
        }
        assert!(usable_key(&[0; 32]).is_none(), "a small-order point");
    }
}
