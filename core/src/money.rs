//! Money: a non-negative integer number of minor units and an ISO 4217
//! currency code. No floating point anywhere near money.
//!
//! Log encoding: `{"minor": "<integer>", "currency": "CAD"}` (the amount as
//! a decimal string, since it may exceed 2^53).

use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A three-letter upper-case ISO 4217 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const CAD: Currency = Currency(*b"CAD");

    pub fn parse(s: &str) -> Result<Currency> {
        let bytes: [u8; 3] = s
            .as_bytes()
            .try_into()
            .map_err(|_| Error::invalid("currency", format!("{s:?} is not three letters")))?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(Error::invalid(
                "currency",
                format!("{s:?} is not three upper-case letters"),
            ));
        }
        Ok(Currency(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minor units in one major unit: every amount is shown and typed with two
/// decimals (ISO 4217 exponent 2, as for CAD and USD).
pub const MINOR_PER_MAJOR: u64 = 100;

/// An amount of money in minor units (cents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: u64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: u64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// The whole major units and the minor units left over (`12.34` is
    /// `(12, 34)`).
    pub fn parts(&self) -> (u64, u64) {
        (self.minor / MINOR_PER_MAJOR, self.minor % MINOR_PER_MAJOR)
    }

    fn same_currency(&self, other: &Money) -> Result<()> {
        if self.currency != other.currency {
            return Err(Error::invalid(
                "money",
                format!("cannot combine {} and {}", self.currency, other.currency),
            ));
        }
        Ok(())
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or_else(|| Error::Overflow(format!("{self} + {other}")))?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or_else(|| Error::Overflow(format!("{self} - {other} is negative")))?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    /// `12.34 CAD` style, for logs and messages (display formatting by
    /// language is the web layer's job).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, cents) = self.parts();
        write!(f, "{whole}.{cents:02} {}", self.currency)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyJson {
    minor: String,
    currency: String,
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Money {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "An amount in integer minor units (cents) of an ISO 4217 currency.",
            "properties": {
                "minor": { "type": "string", "pattern": "^(0|[1-9][0-9]{0,19})$" },
                "currency": { "type": "string", "pattern": "^[A-Z]{3}$" }
            },
            "required": ["minor", "currency"],
            "additionalProperties": false
        })
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        MoneyJson {
            minor: self.minor.to_string(),
            currency: self.currency.to_string(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let j = MoneyJson::deserialize(d)?;
        let minor = crate::ids::parse_u64(&j.minor).map_err(serde::de::Error::custom)?;
        let currency = Currency::parse(&j.currency).map_err(serde::de::Error::custom)?;
        Ok(Money { minor, currency })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_encodes_as_a_decimal_string_and_a_currency() {
        let m = Money::new(1_234_567_890_123_456_789, Currency::CAD);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":"1234567890123456789","currency":"CAD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        for bad in [
            r#"{"minor":1,"currency":"CAD"}"#,
            r#"{"minor":"01","currency":"CAD"}"#,
            r#"{"minor":"-1","currency":"CAD"}"#,
            r#"{"minor":"1","currency":"cad"}"#,
            r#"{"minor":"1","currency":"CAD","x":1}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::new(500, Currency::CAD);
        assert_eq!(a.checked_add(&a).unwrap().minor, 1000);
        assert!(a.checked_sub(&Money::new(501, Currency::CAD)).is_err());
        assert!(
            a.checked_add(&Money::new(1, Currency::parse("USD").unwrap()))
                .is_err()
        );
        assert!(Money::new(u64::MAX, Currency::CAD).checked_add(&a).is_err());
        assert_eq!(a.to_string(), "5.00 CAD");
    }
}
