//! Identifiers and integer encodings shared by the schema.
//!
//! Raffles are identified by random UUIDs (v4, OS CSPRNG); orders and sales
//! by time-ordered UUIDs (v7, 74 random bits from the OS CSPRNG).
//! Draws and packages by short slugs chosen in the raffle's configuration
//! (`main`, `early-bird`, `p10`). Staff appear in the log only by a random
//! per-user id (`s_` and 16 hex digits), never by name.

use crate::{Error, Result};

/// A fresh random UUID, as its hyphenated lower-case text.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new order id (and so sale id): a UUID version 7, whose leading 48 bits
/// are the time in milliseconds and whose other 74 bits are random. Orders
/// and sales are inserted in id order, so their primary-key indexes grow at
/// one end instead of touching a random page per purchase. The time it
/// carries is no secret: the sale entry holds its stamp.
pub fn new_order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Checks a hyphenated lower-case UUID.
pub fn check_uuid(what: &'static str, s: &str) -> Result<()> {
    let u = uuid::Uuid::parse_str(s).map_err(|e| Error::invalid(what, format!("{s:?}: {e}")))?;
    if u.hyphenated().to_string() != s {
        return Err(Error::invalid(
            what,
            format!("{s:?} is not a lower-case hyphenated UUID"),
        ));
    }
    Ok(())
}

/// Checks a slug: 1 to 32 characters of `a-z`, `0-9` and `-`, starting with a letter or digit.
pub fn check_slug(what: &'static str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if !ok {
        return Err(Error::invalid(
            what,
            format!("{s:?} is not a slug (a-z, 0-9, -; at most 32)"),
        ));
    }
    Ok(())
}

/// A fresh staff id: `s_` and 16 hex digits from the OS CSPRNG.
pub fn new_staff_id() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(format!("s_{}", hex::encode(b)))
}

/// Checks a staff id.
pub fn check_staff_id(s: &str) -> Result<()> {
    let ok = s.len() == 18
        && s.starts_with("s_")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(Error::invalid(
            "staff id",
            format!("{s:?} is not s_ and 16 lower-case hex digits"),
        ));
    }
    Ok(())
}

/// Defines an identifier type: a string checked once, when it is parsed
/// (from a request, a form, JSON), so that a value of the type is always
/// well formed. Serialized as the plain string; its JSON Schema states the
/// pattern it is checked against.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr, $pattern:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        /// As the string it is (messages quote ids with `{:?}`).
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            /// Checks `s` and wraps it.
            pub fn parse(s: &str) -> Result<$name> {
                let check: fn(&'static str, &str) -> Result<()> = $check;
                check($what, s)?;
                Ok($name(s.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                $name::parse(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        // In the database an id is text, checked again when it is read back
        // (a row edited by hand cannot smuggle a malformed id in).
        #[cfg(feature = "store")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "store")]
        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode(self.0.as_str(), buf)
            }
        }

        #[cfg(feature = "store")]
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> std::result::Result<$name, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Ok($name::parse(s)?)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!("A ", $what, "."),
                    "pattern": $pattern,
                })
            }
        }
    };
}

id_type!(
    /// A raffle's id: a lower-case hyphenated UUID.
    RaffleId, "raffle id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);
id_type!(
    /// A sale's id, which is its order's id: a lower-case hyphenated UUID.
    SaleId, "sale id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);
id_type!(
    /// A staff user's account id (never in the log): a lower-case hyphenated UUID.
    UserId, "user id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);
id_type!(
    /// A draw's id within its raffle: a slug (`main`, `early-bird`).
    DrawId, "draw id", check_slug, "^[a-z0-9][a-z0-9-]{0,31}$"
);
id_type!(
    /// A package's id within its raffle: a slug (`p10`).
    PackageId, "package id", check_slug, "^[a-z0-9][a-z0-9-]{0,31}$"
);
id_type!(
    /// A staff member as the log names them: `s_` and 16 hex digits.
    StaffId, "staff id", |_, s| check_staff_id(s), "^s_[0-9a-f]{16}$"
);

id_type!(
    /// A Raffle Sales Unit as the log names it: a slug.
    RsuId, "rsu id", check_slug, "^[a-z0-9][a-z0-9-]{0,31}$"
);

id_type!(
    /// A request waiting for a second person (never in the log): a lower-case hyphenated UUID.
    ApprovalId, "approval id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);
id_type!(
    /// A reversed card payment waiting for finance (never in the log): a lower-case hyphenated UUID.
    ReversalId, "reversal id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);
id_type!(
    /// A staff user's console or API session (never its token): a lower-case hyphenated UUID.
    SessionId, "session id", check_uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
);

impl ApprovalId {
    /// A fresh approval id (a random UUID).
    pub fn new_random() -> ApprovalId {
        ApprovalId(new_uuid())
    }
}

impl RaffleId {
    /// A fresh raffle id (a random UUID).
    pub fn new_random() -> RaffleId {
        RaffleId(new_uuid())
    }
}

impl SaleId {
    /// A fresh order (and so sale) id, time-ordered ([`new_order_id`]).
    pub fn new_order() -> SaleId {
        SaleId(new_order_id())
    }
}

impl UserId {
    /// A fresh account id (a random UUID).
    pub fn new_random() -> UserId {
        UserId(new_uuid())
    }
}

impl StaffId {
    /// A fresh staff id ([`new_staff_id`]).
    pub fn new_random() -> Result<StaffId> {
        new_staff_id().map(StaffId)
    }
}

/// An order's id is its sale's id.
pub type OrderId = SaleId;

/// A u64 written as a decimal string without leading zeroes (the log's
/// encoding of integers that can exceed 2^53).
pub fn parse_u64(s: &str) -> Result<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(Error::invalid(
            "integer",
            format!("{s:?} is not a decimal number without leading zeroes"),
        ));
    }
    s.parse()
        .map_err(|_| Error::invalid("integer", format!("{s:?} exceeds 2^64 - 1")))
}

/// Serde helpers for u64 values written as decimal strings.
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_u64(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for lists of u64 values written as decimal strings.
pub mod u64_string_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| super::parse_u64(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        check_uuid("raffle id", &new_uuid()).unwrap();
        assert!(check_uuid("raffle id", "6F9619FF-8B86-D011-B42D-00C04FC964FF").is_err());
        check_slug("draw id", "early-bird").unwrap();
        assert!(check_slug("draw id", "Early").is_err());
        assert!(check_slug("draw id", "").is_err());
        check_staff_id(&new_staff_id().unwrap()).unwrap();
        assert!(check_staff_id("s_123").is_err());
        assert_eq!(parse_u64("18446744073709551615").unwrap(), u64::MAX);
        for bad in ["", "01", "-1", "18446744073709551616", "1.0", " 1"] {
            assert!(parse_u64(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn an_id_is_checked_once_when_parsed() {
        assert!(RaffleId::parse("0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10").is_ok());
        assert!(RaffleId::parse("0B6F0B5E-6D2A-4B8E-9A53-4C1F3E2D7A10").is_err());
        assert!(serde_json::from_str::<DrawId>("\"Main\"").is_err());
        assert_eq!(
            serde_json::from_str::<DrawId>("\"main\"").unwrap().as_str(),
            "main"
        );
        assert_eq!(
            serde_json::to_string(&PackageId::parse("p10").unwrap()).unwrap(),
            "\"p10\""
        );
        assert!(StaffId::parse("s_0123456789abcdef").is_ok());
        assert!(StaffId::parse("s_0123").is_err());
    }
}
