//! UTC timestamps with microsecond precision, encoded in the log as RFC 3339
//! with exactly six fractional digits and `Z`: `2026-11-27T20:54:35.123456Z`.

use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time from the system clock.
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }

    /// A date-time (as the database returns one), to the microsecond.
    pub fn from_datetime(dt: OffsetDateTime) -> Timestamp {
        Timestamp((dt.unix_timestamp_nanos() / 1000) as i64)
    }

    /// As a date-time (as the database takes one); an error beyond the
    /// years the `time` crate represents.
    pub fn to_offset_datetime(self) -> Result<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .map_err(|e| Error::invalid("time", e.to_string()))
    }

    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    pub fn as_micros(&self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (for cosignature timestamps).
    pub fn as_secs(&self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    fn to_datetime(self) -> OffsetDateTime {
        self.to_offset_datetime().expect("i64 micros is in range")
    }

    /// Parses the log's canonical form (and only it).
    pub fn parse(s: &str) -> Result<Timestamp> {
        let bad = |reason: &str| Error::invalid("timestamp", format!("{s:?}: {reason}"));
        let b = s.as_bytes();
        if b.len() != 27 {
            return Err(bad("want YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC, microseconds)"));
        }
        let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
        if !shape_ok {
            return Err(bad("want YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC, microseconds)"));
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().expect("digits");
        let month = Month::try_from(num(5..7) as u8).map_err(|_| bad("no such month"))?;
        let date = Date::from_calendar_date(num(0..4) as i32, month, num(8..10) as u8)
            .map_err(|_| bad("no such date"))?;
        let time = Time::from_hms_micro(
            num(11..13) as u8,
            num(14..16) as u8,
            num(17..19) as u8,
            num(20..26),
        )
        .map_err(|_| bad("no such time of day"))?;
        Ok(Timestamp::from_datetime(
            PrimitiveDateTime::new(date, time).assume_utc(),
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.microsecond()
        )
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
            "description": "UTC, RFC 3339 with exactly six fractional digits and Z."
        })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_the_canonical_form_only() {
        let t = Timestamp::parse("2026-11-27T20:54:35.123456Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-27T20:54:35.123456Z");
        assert_eq!(
            Timestamp::from_micros(0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()).unwrap(), now);
        for bad in [
            "2026-11-27T20:54:35Z",
            "2026-11-27T20:54:35.123456+00:00",
            "2026-02-30T20:54:35.123456Z",
            "2026-11-27 20:54:35.123456Z",
            "2026-11-27T24:00:00.000000Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
