//! The sales-unit (RSU) protocol: what a device signs, how its records
//! chain, and how the server's answers are signed (schema version 4;
//! architecture page, "Sales units").
//!
//! Guarantees, for anyone holding the log and nothing else:
//! - a record is the device's: it is signed by the key the device was
//!   enrolled with (`rsu.enrolled`), over a domain-separated message that
//!   names the log origin, so it cannot be replayed into another log,
//!   raffle or device;
//! - a device's records form one chain: record `seq` names the hash of
//!   record `seq - 1` (zeros before record 1), so a lost, reordered,
//!   inserted or altered record breaks the chain, and two records with one
//!   sequence are a provable fork;
//! - a sale's id is derived from its device and sequence, so a record can
//!   become at most one sale.
//!
//! Messages are UTF-8 lines, each ending in a newline; numbers in decimal,
//! hashes in lower-case hex, times as the log writes them. Signatures are
//! Ed25519 (strict verification).

use crate::entry::{RsuRecord, RsuSealed};
use crate::ids::{RsuId, SaleId};
use crate::{Error, Result, Timestamp};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// How far a device's clock may run ahead of the server's receipt of its
/// record (a clock further ahead is a device fault: `clock`).
pub const MAX_CLOCK_SKEW_MICROS: i64 = 300_000_000;

/// The most reprints of one sale (GLI-31 2.4): a ticket that will not
/// print after this many tries is voided instead.
pub const MAX_REPRINTS: u32 = 3;

/// The hash a device's first record names as its previous one.
pub const GENESIS: [u8; 32] = [0; 32];

/// The message a device signs for a sale record.
pub fn sale_message(origin: &str, r: &RsuRecord) -> Vec<u8> {
    format!(
        "raffle-rsu-sale/v1\n{origin}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{} {}\n{}\n{}\n{}\n{}\n",
        r.raffle,
        r.rsu,
        r.seq.0,
        hex::encode(r.prev.0),
        r.package,
        r.quantity,
        r.numbers.first.0,
        r.numbers.count.0,
        r.price.minor,
        r.price.currency,
        r.payment.as_str(),
        hex::encode(r.validation.0),
        r.device_time,
        r.operator,
    )
    .into_bytes()
}

/// A record's hash, which the next record names as `prev`:
/// SHA-256(message || signature).
pub fn record_hash(origin: &str, r: &RsuRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(sale_message(origin, r));
    h.update(&r.signature.0);
    h.finalize().into()
}

/// The message a device signs to seal its chain for a draw's cutoff.
pub fn seal_message(origin: &str, s: &RsuSealed) -> Vec<u8> {
    format!(
        "raffle-rsu-seal/v1\n{origin}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        s.raffle,
        s.draw,
        s.rsu,
        s.seq.0,
        hex::encode(s.hash.0),
        s.device_time,
    )
    .into_bytes()
}

/// The message a device signs for a reprint of its sale `seq` (GLI-31
/// 2.4): which copy, the operator and the supervising second operator.
pub fn reprint_message(origin: &str, r: &crate::entry::RsuReprinted) -> Vec<u8> {
    format!(
        "raffle-rsu-reprint/v1\n{origin}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        r.raffle, r.rsu, r.seq.0, r.copy, r.operator, r.supervisor, r.device_time,
    )
    .into_bytes()
}

/// What a device signs to ask for the void of its sale `seq` (GLI-31
/// 2.3.3): the reason, the operator and the supervising second operator.
/// Finance approves it on the server; the log holds the `sale.voided`.
#[allow(clippy::too_many_arguments)]
pub fn void_message(
    origin: &str,
    raffle: &crate::ids::RaffleId,
    rsu: &RsuId,
    seq: u64,
    reason: crate::entry::VoidReason,
    operator: &crate::ids::StaffId,
    supervisor: &crate::ids::StaffId,
    device_time: Timestamp,
) -> Vec<u8> {
    let reason = serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!(
        "raffle-rsu-void/v1\n{origin}\n{raffle}\n{rsu}\n{seq}\n{reason}\n{operator}\n{supervisor}\n{device_time}\n"
    )
    .into_bytes()
}

/// The message a device signs over a sync request's body: a fresh nonce
/// makes every request distinct, so a captured request cannot be replayed.
pub fn request_message(origin: &str, rsu: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "raffle-rsu-sync/v1\n{origin}\n{rsu}\n{nonce}\n{}\n",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// The message the server signs over its answer to a device (with the
/// log's key, which the device pinned at enrolment).
pub fn answer_message(origin: &str, rsu: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "raffle-rsu-answer/v1\n{origin}\n{rsu}\n{nonce}\n{}\n",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// Whether `signature` is the device key's over `message` (strict
/// Ed25519: no malleable or small-order forms).
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

/// Whether a public key can verify anything (a valid curve point, not of
/// small order): a device is enrolled only with one.
pub fn check_key(key: &[u8; 32]) -> Result<()> {
    match VerifyingKey::from_bytes(key) {
        Ok(k) if !k.is_weak() => Ok(()),
        _ => Err(Error::invalid(
            "device key",
            "not a usable Ed25519 public key",
        )),
    }
}

/// The sale id of a device's record: the first 16 bytes of
/// SHA-256("raffle-rsu-sale-id/v1\n" || rsu || "\n" || seq || "\n") as a
/// UUID (version 8, RFC 9562 variant).
pub fn sale_id(rsu: &RsuId, seq: u64) -> SaleId {
    let d = Sha256::digest(format!("raffle-rsu-sale-id/v1\n{rsu}\n{seq}\n"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let id = uuid::Uuid::from_bytes(b).hyphenated().to_string();
    SaleId::parse(&id).expect("a hyphenated UUID")
}

/// The record a `sale` entry of an RSU carries, rebuilt from the entry
/// (to check its signature and chain).
pub fn record_of_sale(s: &crate::entry::Sale) -> Option<RsuRecord> {
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

/// A device's signing key (the scripted devices of the tests, and the RSU
/// app): signs records, seals and requests as this module defines them.
pub struct DeviceKey {
    key: ed25519_dalek::SigningKey,
}

impl DeviceKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<DeviceKey> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Storage(format!("OS randomness: {e}")))?;
        Ok(DeviceKey::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> DeviceKey {
        DeviceKey {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The secret seed: only for a key store to encrypt at rest, or to
    /// derive the unit's backup key from.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }

    /// Signs `r` in place (its `signature` field) and returns its hash.
    pub fn sign_record(&self, origin: &str, r: &mut RsuRecord) -> [u8; 32] {
        r.signature = crate::entry::HexBytes(self.sign(&sale_message(origin, r)).to_vec());
        record_hash(origin, r)
    }

    /// Signs a seal in place.
    pub fn sign_seal(&self, origin: &str, s: &mut RsuSealed) {
        s.signature = crate::entry::HexBytes(self.sign(&seal_message(origin, s)).to_vec());
    }

    /// Signs a reprint in place.
    pub fn sign_reprint(&self, origin: &str, r: &mut crate::entry::RsuReprinted) {
        r.signature = crate::entry::HexBytes(self.sign(&reprint_message(origin, r)).to_vec());
    }
}

/// The head of a device's chain: its last record's sequence and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: GENESIS,
    };
}

/// The latest time a record received at `received` may carry.
pub fn latest_device_time(received: Timestamp) -> Timestamp {
    Timestamp::from_micros(received.as_micros().saturating_add(MAX_CLOCK_SKEW_MICROS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Digest32, HexBytes, NumberRange, PaymentMethod, U64};
    use crate::{Currency, Money};

    fn record() -> RsuRecord {
        RsuRecord {
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
        }
    }

    #[test]
    fn a_signed_record_verifies_and_any_change_breaks_it() {
        let key = DeviceKey::from_seed(&[1; 32]);
        let mut r = record();
        let hash = key.sign_record("example.org/log", &mut r);
        let msg = sale_message("example.org/log", &r);
        assert!(verify(&key.public(), &msg, &r.signature.0));
        assert_eq!(hash, record_hash("example.org/log", &r));
        // Another origin, another price, another time: not the device's.
        assert!(!verify(
            &key.public(),
            &sale_message("other.example/log", &r),
            &r.signature.0
        ));
        let mut dearer = r.clone();
        dearer.price = Money::new(5000, Currency::CAD);
        assert!(!verify(
            &key.public(),
            &sale_message("example.org/log", &dearer),
            &r.signature.0
        ));
        assert_ne!(record_hash("example.org/log", &dearer), hash);
        assert!(!verify(
            &DeviceKey::from_seed(&[2; 32]).public(),
            &msg,
            &r.signature.0
        ));
        assert!(!verify(&key.public(), &msg, &r.signature.0[..63]));
    }

    #[test]
    fn the_message_is_exactly_the_documented_lines() {
        let r = record();
        assert_eq!(
            String::from_utf8(sale_message("example.org/log", &r)).unwrap(),
            "raffle-rsu-sale/v1\nexample.org/log\n0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10\ngate-3\n1\n\
             0000000000000000000000000000000000000000000000000000000000000000\np1\n1\n1001\n1\n500 CAD\ncash\n\
             0707070707070707070707070707070707070707070707070707070707070707\n2026-12-05T18:00:00.000000Z\n\
             s_5c2e8b1f0a7d3964\n"
        );
    }

    #[test]
    fn sale_ids_are_distinct_per_device_and_sequence_and_stable() {
        let a: RsuId = "gate-3".parse().unwrap();
        let b: RsuId = "gate-4".parse().unwrap();
        assert_eq!(sale_id(&a, 1), sale_id(&a, 1));
        assert_ne!(sale_id(&a, 1), sale_id(&a, 2));
        assert_ne!(sale_id(&a, 1), sale_id(&b, 1));
        let id = sale_id(&a, 1);
        assert_eq!(&id.as_str()[14..15], "8");
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(check_key(&[0; 32]).is_err());
        assert!(check_key(&DeviceKey::from_seed(&[3; 32]).public()).is_ok());
    }
}
