//! Validation numbers (GLI-31 2.3.2): 128 bits from the OS CSPRNG, shown as
//! 26 Crockford base32 characters plus a Crockford check character (value
//! mod 37). Neither the log nor the database keeps one: they keep the
//! commitment SHA-256("raffle-vn/v1" || 0x00 || raffle id || 0x00 || the 27
//! characters), and a claim hashes what the bearer presents.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_SYMBOLS: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// A validation number. Its `Debug` hides the value: it is a bearer secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValidationNumber(u128);

impl fmt::Debug for ValidationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValidationNumber(…)")
    }
}

fn decode_symbol(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

impl ValidationNumber {
    /// A fresh, unpredictable validation number.
    pub fn generate() -> Result<ValidationNumber> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
        Ok(ValidationNumber(u128::from_be_bytes(b)))
    }

    pub fn from_u128(v: u128) -> ValidationNumber {
        ValidationNumber(v)
    }

    /// The 27-character form: 26 data characters and the check character.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(27);
        for i in (0..26).rev() {
            out.push(ALPHABET[((self.0 >> (5 * i)) & 31) as usize] as char);
        }
        out.push(CHECK_SYMBOLS[(self.0 % 37) as usize] as char);
        out
    }

    /// Parses what a bearer typed or scanned: case-insensitive, hyphens and
    /// spaces ignored, O read as 0 and I or L as 1; the check character must match.
    pub fn parse(input: &str) -> Result<ValidationNumber> {
        let bad = |reason: &str| Error::invalid("validation number", reason.to_string());
        let chars: Vec<u8> = input.bytes().filter(|&c| c != b'-' && c != b' ').collect();
        if chars.len() != 27 {
            return Err(bad("want 27 characters"));
        }
        let mut v: u128 = 0;
        for (i, &c) in chars[..26].iter().enumerate() {
            let d = decode_symbol(c).ok_or_else(|| bad("a character is not Crockford base32"))?;
            if i == 0 && d > 7 {
                return Err(bad("the first character must be 0 to 7 (128 bits)"));
            }
            v = (v << 5) | u128::from(d);
        }
        let check = chars[26].to_ascii_uppercase();
        if CHECK_SYMBOLS[(v % 37) as usize] != check {
            return Err(bad("the check character does not match (mistyped?)"));
        }
        Ok(ValidationNumber(v))
    }

    /// The commitment kept in the database and the log.
    pub fn commitment(&self, raffle_id: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"raffle-vn/v1");
        h.update([0]);
        h.update(raffle_id.as_bytes());
        h.update([0]);
        h.update(self.to_text().as_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_typos_are_caught() {
        for _ in 0..1000 {
            let v = ValidationNumber::generate().unwrap();
            let t = v.to_text();
            assert_eq!(t.len(), 27);
            assert_eq!(ValidationNumber::parse(&t).unwrap(), v);
            assert_eq!(ValidationNumber::parse(&t.to_lowercase()).unwrap(), v);
            let spaced = format!("{}-{}-{}", &t[..9], &t[9..18], &t[18..]);
            assert_eq!(ValidationNumber::parse(&spaced).unwrap(), v);
            // Any single changed data character is caught by the check character.
            let mut b = t.clone().into_bytes();
            b[10] = if b[10] == b'2' { b'3' } else { b'2' };
            assert!(ValidationNumber::parse(std::str::from_utf8(&b).unwrap()).is_err());
        }
        assert_eq!(
            ValidationNumber::from_u128(0).to_text(),
            "0000000000000000000000000000"[..27].to_string()
        );
        assert_eq!(
            ValidationNumber::from_u128(u128::MAX)
                .to_text()
                .chars()
                .next(),
            Some('7')
        );
        assert!(ValidationNumber::parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ0").is_err());
        assert!(ValidationNumber::parse("short").is_err());
        assert!(!format!("{:?}", ValidationNumber::from_u128(5)).contains('5'));
    }

    #[test]
    fn commitments_bind_the_raffle() {
        let v = ValidationNumber::generate().unwrap();
        assert_ne!(v.commitment("a"), v.commitment("b"));
        assert_eq!(
            v.commitment("a"),
            ValidationNumber::parse(&v.to_text())
                .unwrap()
                .commitment("a")
        );
    }
}
