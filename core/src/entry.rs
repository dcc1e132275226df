//! The log entry schema, version 4: the one definition of every entry the
//! raffle log holds. The server writes these, the auditor reads them.
//!
//! Versions (architecture page, "schema-versioning rule"): the server writes
//! [`SCHEMA_VERSION`]; every entry keeps the version it was written with
//! ([`Entry::version`]), and [`Entry::parse`] reads every version from
//! [`OLDEST_VERSION`] up, re-encoding at the entry's own version for the
//! canonical-form check. Version 2 added `supervised_by` to `claim.paid`;
//! version 3 added `payment_account` to `raffle.opened`; version 4 added
//! the sales units (RSUs): the `rsu.*` types and `device` on `sale`
//! (the protocol they record is [`crate::rsu`]).
//! Documented with an example of every type in `docs/entry-schema.md`
//! (a test keeps that file and this one in step).
//!
//! Encoding rules (architecture page, "The log"):
//! - one compact JSON object, UTF-8, at most 65,535 bytes, starting with the
//!   schema version `v` and `type`, ending with the entry's `time`;
//! - the canonical form only: fields in schema order, no whitespace, no
//!   duplicate keys, no unknown fields (an entry is re-encoded and compared);
//! - integers that can exceed 2^53 (u64 values, draw numbers, raw RNG
//!   outputs) are decimal strings; times are RFC 3339 UTC with microseconds;
//!   money is `{"minor": "<integer>", "currency": "CAD"}`; hashes are
//!   lower-case hex;
//! - nothing personal: no names, e-mails, card data, payment ids, IP
//!   addresses or validation numbers (but for `claim.paid`, which reveals a
//!   paid winner's). Staff appear by random id.
//!
//! A type or version this build does not know is an [`Error::UnknownEntry`]
//! ("upgrade raffle-audit").

use crate::ids::{DrawId, PackageId, RaffleId, RsuId, SaleId, StaffId, u64_string, u64_string_vec};
use crate::{Error, Money, Result, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema version this build writes (and the newest it reads).
pub const SCHEMA_VERSION: u64 = 4;
/// The oldest schema version this build reads.
pub const OLDEST_VERSION: u64 = 1;
/// Largest entry (an entry bundle's uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = transparency::tile::MAX_ENTRY_SIZE;

/// Every entry type, in the order of the docs (the `rsu.*` types exist
/// from version 4: [`RSU_TYPES`]).
pub const TYPES: &[&str] = &[
    "software.started",
    "raffle.created",
    "raffle.updated",
    "raffle.opened",
    "sale",
    "sale.voided",
    "raffle.closed",
    "reconciliation.acknowledged",
    "draw.frozen",
    "draw.performed",
    "claim.paid",
    "events.digest",
    "rsu.enrolled",
    "rsu.enabled",
    "rsu.disabled",
    "rsu.allocated",
    "rsu.seen",
    "rsu.sealed",
    "rsu.released",
    "rsu.unreconcilable",
    "rsu.rejected",
    "rsu.reprinted",
];

/// The types version 4 added: the last ten of [`TYPES`].
pub const RSU_TYPES: &[&str] = TYPES.split_at(12).1;

/// 32 bytes, as 64 lower-case hex digits (hashes, commitments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digest32(pub [u8; 32]);

impl Serialize for Digest32 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s, Some(32))
            .map(|b| Digest32(b.try_into().expect("32 bytes")))
            .map_err(serde::de::Error::custom)
    }
}

/// Bytes of any length as lower-case hex (the draw contribution, the seed).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s, None)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

fn parse_hex(s: &str, len: Option<usize>) -> Result<Vec<u8>> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::invalid("hex", format!("{s:?} is not lower-case")));
    }
    let b = hex::decode(s).map_err(|e| Error::invalid("hex", format!("{s:?}: {e}")))?;
    if let Some(len) = len
        && b.len() != len
    {
        return Err(Error::invalid(
            "hex",
            format!("{} bytes, want {len}", b.len()),
        ));
    }
    Ok(b)
}

/// How a raffle's prizes are set.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prize {
    /// A share of net sales (50/50), optionally capped (GLI-31 2.2.1).
    Share { share_bps: u32, cap: Option<Money> },
    /// A fixed amount (a fixed-prize raffle, or an early-bird prize).
    Fixed { amount: Money },
}

/// A ticket package: `tickets` draw numbers for `price`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub id: PackageId,
    pub tickets: u32,
    pub price: Money,
}

/// One draw of a raffle (early-bird or main), with its own cutoff and prize.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawConfig {
    pub id: DrawId,
    pub name: String,
    /// Sales sequenced before this time are eligible.
    pub cutoff: Timestamp,
    /// When the draw is scheduled.
    pub draw_at: Timestamp,
    pub prize: Prize,
}

/// Whether a number, or a whole sale, can win more than one draw.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WinRule {
    /// Any eligible number may win every draw.
    Unlimited,
    /// A number that has won is out of later draws.
    NumberOnce,
    /// Every number of a sale that has won is out of later draws.
    SaleOnce,
}

/// How fixed (early-bird) prizes affect a share prize.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EarlyBirdDeduction {
    /// Paid from the operator's share: the main prize is not reduced.
    FromProceeds,
    /// Deducted from the main (share) prize.
    FromMainPrize,
}

/// What a jurisdiction asks of buyers (checked at purchase; nothing
/// personal about the buyer reaches the log).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerRules {
    /// Buyers confirm they are at least this old (18 or 19 in Canada).
    pub minimum_age: u32,
    /// Regions (ISO 3166-2 codes, e.g. `CA-ON`) where buyers must be.
    pub regions: Vec<String>,
}

/// A raffle's configuration: what `raffle.created` fixes and `raffle.updated`
/// may change while the raffle is a draft (frozen once open, GLI-31 2.2.3).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaffleConfig {
    pub name: String,
    pub organisation: String,
    pub licence: Option<String>,
    /// Jurisdiction code, e.g. `CA-ON`.
    pub jurisdiction: String,
    /// IANA time zone for display, e.g. `America/Toronto`.
    pub time_zone: String,
    pub buyers: BuyerRules,
    /// Roles whose users may approve voids, refunds and reconciliation
    /// acknowledgements (a jurisdiction setting; GLI-31 5.2.4): among
    /// `finance` and `administrator`.
    pub approvers: Vec<crate::Role>,
    pub packages: Vec<Package>,
    /// Largest number of draw numbers that may be sold, if limited.
    pub max_tickets: Option<U64>,
    /// Draw numbers are issued consecutively from here.
    pub first_number: U64,
    pub sales_start: Timestamp,
    pub sales_end: Timestamp,
    pub draws: Vec<DrawConfig>,
    pub wins: WinRule,
    pub early_bird: EarlyBirdDeduction,
    pub claims: ClaimRules,
}

/// How prizes are claimed: jurisdiction settings (GLI-31 2.7.1).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRules {
    /// Days after a draw (or a redraw) during which its winner may claim.
    pub window_days: u32,
    /// What becomes of a prize not claimed within the window.
    pub unclaimed: UnclaimedRule,
    /// Prizes over this amount are paid only once the winner's paperwork
    /// (identity, tax forms: kept out of the log) is completed.
    pub paperwork_over: Option<Money>,
}

/// What becomes of a prize not claimed within the claim window.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnclaimedRule {
    /// The draw is performed again (a `draw.performed` with a redraw).
    Redraw,
    /// The prize is forfeited (to the organisation, as the licence says).
    Forfeit,
}

/// A u64 encoded as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct U64(#[serde(with = "u64_string")] pub u64);

#[cfg(feature = "schema")]
impl schemars::JsonSchema for U64 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "U64".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0|[1-9][0-9]{0,19})$",
            "description": "An unsigned 64-bit integer as a decimal string."
        })
    }
}

/// A run of consecutive draw numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRange {
    pub first: U64,
    pub count: U64,
}

impl NumberRange {
    /// The numbers, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> {
        self.first.0..self.first.0 + self.count.0
    }

    pub fn contains(&self, n: u64) -> bool {
        n >= self.first.0 && n - self.first.0 < self.count.0
    }
}

/// Where a sale was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Rsu,
}

/// Why a sale was voided (no free text: it could carry personal data).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    Misprint,
    BuyerRequest,
    PaymentReversed,
    Duplicate,
    OperatorError,
}

/// Why sales closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The sequencer reached the configured end time.
    EndTime,
    /// An operator closed sales early (GLI-31 2.6.2).
    Operator,
}

/// Why a draw was performed again: a drawn number is never discarded
/// otherwise. A redraw continues the draw's random stream (the seed is
/// public once the draw is performed, so its result can be computed in
/// advance): it is valid only for these reasons, requested and approved by
/// two people, and every one is reported by raffle-audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redraw {
    pub reason: RedrawReason,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

/// The reasons a draw may be performed again.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedrawReason {
    /// The prize was not claimed within the claim window.
    Unclaimed,
    /// The winner was found ineligible.
    WinnerIneligible,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareStarted {
    pub program: String,
    pub version: String,
    /// SHA-256 of the running executable (GLI-31 5.8.1).
    pub sha256: Digest32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaffleCreated {
    pub raffle: RaffleId,
    pub config: RaffleConfig,
    pub by: StaffId,
}

/// A change to a draft's configuration, old and new values in full (GLI-31 5.2.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaffleUpdated {
    pub raffle: RaffleId,
    pub old: RaffleConfig,
    pub new: RaffleConfig,
    pub by: StaffId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaffleOpened {
    pub raffle: RaffleId,
    pub by: StaffId,
    /// Version 3. The SHA-256 of the payment account (Stripe's `acct_...`
    /// id) card sales of this raffle are paid into, fixed when it opens:
    /// a payment into any other account is refused. `null` when the raffle
    /// takes no card payments; absent in earlier versions. Anyone told the
    /// account id can check it; the id itself is not in the log.
    pub payment_account: Option<Digest32>,
}

/// `raffle.opened` as versions 1 and 2 wrote it: without `payment_account`.
#[derive(Serialize)]
struct RaffleOpenedV2<'a> {
    raffle: &'a str,
    by: &'a str,
}

/// A sale: draw numbers issued to a bearer (GLI-31 2.3.1, 3.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sale {
    pub raffle: RaffleId,
    pub sale: SaleId,
    pub package: PackageId,
    /// How many of the package were bought.
    pub quantity: u32,
    pub numbers: NumberRange,
    pub price: Money,
    pub channel: Channel,
    /// The RSU that sold it, for RSU sales.
    pub rsu: Option<RsuId>,
    /// When the order was accepted; must be before the raffle's end time (GLI-31 2.2.2).
    pub stamped: Timestamp,
    /// SHA-256("raffle-vn/v1" || 0 || raffle || 0 || validation number).
    pub validation: Digest32,
    /// Version 4. For an RSU sale, what the device signed besides the
    /// fields above (`stamped` is the device's sale time); `null` online.
    /// Absent in earlier versions.
    pub device: Option<DeviceRecord>,
}

/// `sale` as versions 1 to 3 wrote it: without `device`.
#[derive(Serialize)]
struct SaleV3<'a> {
    raffle: &'a str,
    sale: &'a str,
    package: &'a str,
    quantity: u32,
    numbers: &'a NumberRange,
    price: Money,
    channel: Channel,
    rsu: Option<&'a str>,
    stamped: Timestamp,
    validation: Digest32,
}

/// How an RSU sale was paid (version 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
}

impl PaymentMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
        }
    }
}

/// What an RSU sale carries besides the sale's own fields (version 4):
/// its place in the device's chain, the device's signature over the
/// record ([`crate::rsu::sale_message`]) and when the server received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    /// The device's sequence number of the record (1, 2, ...).
    pub seq: U64,
    /// The hash of the device's previous record (zeros before its first).
    pub prev: Digest32,
    pub payment: PaymentMethod,
    /// The operator signed in on the device when it sold (GLI-31 3.2.2):
    /// a staff id, as the server's operator list named them.
    pub operator: StaffId,
    /// The Ed25519 signature of the device's key over the record.
    pub signature: HexBytes,
    /// When the server received it (the device's time is `stamped`).
    pub received: Timestamp,
}

/// A sale record as a device signs it (version 4): the wire format of the
/// sync protocol, and what `rsu.rejected` logs. [`crate::rsu`] defines the
/// signed message and the record's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuRecord {
    pub raffle: RaffleId,
    pub rsu: RsuId,
    pub seq: U64,
    pub prev: Digest32,
    pub package: PackageId,
    pub quantity: u32,
    pub numbers: NumberRange,
    pub price: Money,
    pub payment: PaymentMethod,
    pub validation: Digest32,
    pub device_time: Timestamp,
    /// The operator signed in on the device (GLI-31 3.2.2).
    pub operator: StaffId,
    pub signature: HexBytes,
}

/// A device enrolled and enabled (GLI-31 6.1.3), requested and approved by
/// two people: its public key from here on signs its records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuEnrolled {
    pub rsu: RsuId,
    /// The device's Ed25519 public key.
    pub key: Digest32,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

/// A disabled device enabled again, by two people (GLI-31 6.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuEnabled {
    pub rsu: RsuId,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

/// Why a device was disabled (GLI-31 5.4.2).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisableReason {
    /// Disabled remotely by an administrator.
    Remote,
    /// It missed its revalidations.
    RevalidationFailed,
}

/// A device disabled: its sales made from here on are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuDisabled {
    pub rsu: RsuId,
    pub reason: DisableReason,
    /// The administrator, or `null` when raffled disabled it.
    pub by: Option<StaffId>,
}

/// Draw numbers allocated to a device: the next numbers of the raffle,
/// sold only by that device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuAllocated {
    pub raffle: RaffleId,
    pub rsu: RsuId,
    pub numbers: NumberRange,
    pub by: StaffId,
}

/// A device's chain head as it presented it at a contact: its history up
/// to there is fixed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuSeen {
    pub rsu: RsuId,
    pub seq: U64,
    pub hash: Digest32,
}

/// A device's seal of its chain for a draw's cutoff, signed by the device
/// ([`crate::rsu::seal_message`]): `seq` is its last record sold before
/// the cutoff (0 if none), `hash` that record's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuSealed {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub rsu: RsuId,
    pub seq: U64,
    pub hash: Digest32,
    pub device_time: Timestamp,
    pub signature: HexBytes,
}

/// A device's unsold numbers of a raffle returned, once it sealed for the
/// last draw and uploaded up to the seal: it sells no more for the raffle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuReleased {
    pub raffle: RaffleId,
    pub rsu: RsuId,
    /// Allocated numbers it did not sell.
    pub count: U64,
}

/// Why a device cannot be reconciled for a draw.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnreconcilableReason {
    Lost,
    Stolen,
    Damaged,
    Corrupted,
}

/// Finance's declaration, by two people, that a device cannot upload its
/// sales for a draw: the draw no longer waits for it, and its records
/// after `uploaded` that would count for the draw never will.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuUnreconcilable {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub rsu: RsuId,
    /// The device's chain head when declared.
    pub uploaded: U64,
    pub reason: UnreconcilableReason,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

/// Why a device's record was refused at sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The signature is not the device's over the record.
    BadSignature,
    /// Its sequence skips ahead of the device's head (a gap or reordering).
    BrokenChain,
    /// Another record holds its sequence, or its history differs from a
    /// head the device presented (`rsu.seen`, `rsu.sealed`).
    Fork,
    /// The device has no allocation in the raffle.
    NotAllocated,
    /// Its numbers are not the device's next allocated ones.
    OutsideAllocation,
    /// Its price or count is not the package's.
    PackageMismatch,
    /// Its device time runs backwards or ahead of the server's receipt.
    Clock,
    /// Its device time is outside the sales window.
    OutsideSalesWindow,
    /// The device released its numbers of the raffle.
    Released,
    /// The device was disabled before its device time.
    Disabled,
    /// It contradicts the device's seal for a draw.
    AfterSeal,
    /// It would count for a draw already reconciled, or declared
    /// unreconcilable for the device.
    DrawClosed,
    /// Its validation-number commitment is another sale's.
    ValidationTaken,
    /// Its operator is not on an operator list the server gave the device
    /// and valid at its device time (GLI-31 3.2.2, 6.1.2).
    Operator,
}

impl RejectReason {
    /// Whether the record is part of the device's chain (its signature and
    /// place are right, only a sale rule refuses it).
    pub fn chained(&self) -> bool {
        !matches!(
            self,
            RejectReason::BadSignature | RejectReason::BrokenChain | RejectReason::Fork
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::BadSignature => "bad_signature",
            RejectReason::BrokenChain => "broken_chain",
            RejectReason::Fork => "fork",
            RejectReason::NotAllocated => "not_allocated",
            RejectReason::OutsideAllocation => "outside_allocation",
            RejectReason::PackageMismatch => "package_mismatch",
            RejectReason::Clock => "clock",
            RejectReason::OutsideSalesWindow => "outside_sales_window",
            RejectReason::Released => "released",
            RejectReason::Disabled => "disabled",
            RejectReason::AfterSeal => "after_seal",
            RejectReason::DrawClosed => "draw_closed",
            RejectReason::ValidationTaken => "validation_taken",
            RejectReason::Operator => "operator",
        }
    }
}

/// A device record refused at sync, with the reason: logged, never a
/// silent gap, and listed for refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuRejected {
    pub record: RsuRecord,
    pub received: Timestamp,
    pub reason: RejectReason,
}

/// A ticket a device printed again (GLI-31 2.4): supervised on the device
/// by a second operator, signed by the device
/// ([`crate::rsu::reprint_message`]) and marked REPRINT on paper. `copy`
/// counts the reprints of the sale, from 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuReprinted {
    pub raffle: RaffleId,
    pub rsu: RsuId,
    /// The sale's sequence on the device (its sale id derives from it).
    pub seq: U64,
    pub copy: u32,
    pub operator: StaffId,
    /// The second operator who supervised it.
    pub supervisor: StaffId,
    pub device_time: Timestamp,
    pub signature: HexBytes,
    /// When the server received it.
    pub received: Timestamp,
}

/// A void, with requester and a different approver (GLI-31 2.3.3, 5.2.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleVoided {
    pub raffle: RaffleId,
    pub sale: SaleId,
    pub reason: VoidReason,
    /// Whether the price was returned to the buyer.
    pub refund: bool,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaffleClosed {
    pub raffle: RaffleId,
    pub reason: CloseReason,
    pub by: Option<StaffId>,
}

/// The event manager's acknowledgement that sales and voids for a draw are
/// reconciled (GLI-31 2.6.1, 2.6.3), with the figures acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationAcknowledged {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub sales: U64,
    pub gross: Money,
    pub voids: U64,
    pub voided: Money,
    pub refunded: Money,
    pub requested_by: StaffId,
    pub approved_by: StaffId,
}

/// Fixes a draw's eligible set and commits to its seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawFrozen {
    pub raffle: RaffleId,
    pub draw: DrawId,
    /// Number of eligible draw numbers.
    pub n: U64,
    /// SHA-256 of the ascending eligible list, 8 big-endian bytes per number.
    pub eligible_sha256: Digest32,
    /// SHA-256 of the draw's fresh 32-byte seed.
    pub seed_sha256: Digest32,
    /// The prize this draw awards, computed from the eligible sales.
    pub prize: Money,
}

/// The draw, with everything needed to recompute it (GLI-31 4.2.1: the
/// numbers selected are stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawPerformed {
    pub raffle: RaffleId,
    pub draw: DrawId,
    /// Leaf index of the `draw.frozen` entry.
    pub frozen: U64,
    pub seed: HexBytes,
    /// The witness's signature over the frozen entry; empty without a witness.
    pub contribution: HexBytes,
    /// Every raw value consumed; the last one was accepted.
    #[serde(with = "u64_string_vec")]
    pub raw: Vec<u64>,
    pub index: U64,
    pub winner: U64,
    pub sale: SaleId,
    /// Set on a redraw; the first performance of a draw has none.
    pub redraw: Option<Redraw>,
}

/// A prize paid to the bearer of a winning ticket (GLI-31 2.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimPaid {
    pub raffle: RaffleId,
    pub draw: DrawId,
    pub sale: SaleId,
    pub number: U64,
    /// The winner's validation number, revealed on payment.
    pub validation_number: String,
    pub prize: Money,
    /// Whether the winner's paperwork was completed (required for prizes
    /// over the raffle's `claims.paperwork_over`).
    pub paperwork: bool,
    pub by: StaffId,
    /// Version 2. The second staff member who approved a supervised claim:
    /// the winner's identity was checked and recorded (in the operator's
    /// database, never here) and a second person approved. Required once an
    /// earlier `claim.paid` has revealed the sale's validation number, since
    /// anyone may then present that number (GLI-31 2.7.1, 5.2.4). Absent in
    /// version 1 entries, `null` for an ordinary claim in version 2.
    pub supervised_by: Option<StaffId>,
}

/// `claim.paid` as version 1 wrote it: without `supervised_by`.
#[derive(Serialize)]
struct ClaimPaidV1<'a> {
    raffle: &'a str,
    draw: &'a str,
    sale: &'a str,
    number: U64,
    validation_number: &'a str,
    prize: Money,
    paperwork: bool,
    by: &'a str,
}

/// The bodies whose encoding in an earlier version differs from the current one.
#[derive(Serialize)]
#[serde(tag = "type")]
enum BodyOld<'a> {
    #[serde(rename = "claim.paid")]
    ClaimPaid(ClaimPaidV1<'a>),
    #[serde(rename = "raffle.opened")]
    RaffleOpened(RaffleOpenedV2<'a>),
    #[serde(rename = "sale")]
    Sale(SaleV3<'a>),
}

/// Anchors the significant events kept in the database (GLI-31 5.6.1): the
/// SHA-256 over each event's canonical record (`core::store::people::event_record`)
/// followed by a newline, in id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsDigest {
    /// Id of the first and last event covered.
    pub first: U64,
    pub last: U64,
    pub count: U64,
    /// SHA-256 over the events' canonical records, in id order.
    pub sha256: Digest32,
}

/// What an entry says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Body {
    #[serde(rename = "software.started")]
    SoftwareStarted(SoftwareStarted),
    #[serde(rename = "raffle.created")]
    RaffleCreated(RaffleCreated),
    #[serde(rename = "raffle.updated")]
    RaffleUpdated(Box<RaffleUpdated>),
    #[serde(rename = "raffle.opened")]
    RaffleOpened(RaffleOpened),
    #[serde(rename = "sale")]
    Sale(Sale),
    #[serde(rename = "sale.voided")]
    SaleVoided(SaleVoided),
    #[serde(rename = "raffle.closed")]
    RaffleClosed(RaffleClosed),
    #[serde(rename = "reconciliation.acknowledged")]
    ReconciliationAcknowledged(ReconciliationAcknowledged),
    #[serde(rename = "draw.frozen")]
    DrawFrozen(DrawFrozen),
    #[serde(rename = "draw.performed")]
    DrawPerformed(DrawPerformed),
    #[serde(rename = "claim.paid")]
    ClaimPaid(ClaimPaid),
    #[serde(rename = "events.digest")]
    EventsDigest(EventsDigest),
    #[serde(rename = "rsu.enrolled")]
    RsuEnrolled(RsuEnrolled),
    #[serde(rename = "rsu.enabled")]
    RsuEnabled(RsuEnabled),
    #[serde(rename = "rsu.disabled")]
    RsuDisabled(RsuDisabled),
    #[serde(rename = "rsu.allocated")]
    RsuAllocated(RsuAllocated),
    #[serde(rename = "rsu.seen")]
    RsuSeen(RsuSeen),
    #[serde(rename = "rsu.sealed")]
    RsuSealed(RsuSealed),
    #[serde(rename = "rsu.released")]
    RsuReleased(RsuReleased),
    #[serde(rename = "rsu.unreconcilable")]
    RsuUnreconcilable(RsuUnreconcilable),
    #[serde(rename = "rsu.rejected")]
    RsuRejected(Box<RsuRejected>),
    #[serde(rename = "rsu.reprinted")]
    RsuReprinted(RsuReprinted),
}

/// One log entry: its time and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The schema version it was written with (see the module doc).
    pub version: u64,
    /// max(now, previous entry's time), set by the sequencer.
    pub time: Timestamp,
    pub body: Body,
}

#[derive(Serialize)]
struct Encoded<'a, B: Serialize> {
    v: u64,
    #[serde(flatten)]
    body: &'a B,
    time: Timestamp,
}

#[derive(Deserialize)]
struct Header {
    v: serde_json::Value,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Decoded {
    v: u64,
    time: Timestamp,
    #[serde(flatten)]
    body: Body,
}

impl Entry {
    /// An entry of the current schema version.
    pub fn new(time: Timestamp, body: Body) -> Entry {
        Entry {
            version: SCHEMA_VERSION,
            time,
            body,
        }
    }

    /// An entry of an older schema version, as an earlier build wrote it
    /// (tests of mixed-version logs; the server writes only the current one).
    pub fn at_version(version: u64, time: Timestamp, body: Body) -> Entry {
        Entry {
            version,
            time,
            body,
        }
    }

    /// The entry's type name.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            Body::SoftwareStarted(_) => "software.started",
            Body::RaffleCreated(_) => "raffle.created",
            Body::RaffleUpdated(_) => "raffle.updated",
            Body::RaffleOpened(_) => "raffle.opened",
            Body::Sale(_) => "sale",
            Body::SaleVoided(_) => "sale.voided",
            Body::RaffleClosed(_) => "raffle.closed",
            Body::ReconciliationAcknowledged(_) => "reconciliation.acknowledged",
            Body::DrawFrozen(_) => "draw.frozen",
            Body::DrawPerformed(_) => "draw.performed",
            Body::ClaimPaid(_) => "claim.paid",
            Body::EventsDigest(_) => "events.digest",
            Body::RsuEnrolled(_) => "rsu.enrolled",
            Body::RsuEnabled(_) => "rsu.enabled",
            Body::RsuDisabled(_) => "rsu.disabled",
            Body::RsuAllocated(_) => "rsu.allocated",
            Body::RsuSeen(_) => "rsu.seen",
            Body::RsuSealed(_) => "rsu.sealed",
            Body::RsuReleased(_) => "rsu.released",
            Body::RsuUnreconcilable(_) => "rsu.unreconcilable",
            Body::RsuRejected(_) => "rsu.rejected",
            Body::RsuReprinted(_) => "rsu.reprinted",
        }
    }

    /// The raffle an entry is about, if any.
    pub fn raffle(&self) -> Option<&str> {
        match &self.body {
            Body::SoftwareStarted(_)
            | Body::EventsDigest(_)
            | Body::RsuEnrolled(_)
            | Body::RsuEnabled(_)
            | Body::RsuDisabled(_)
            | Body::RsuSeen(_) => None,
            Body::RsuAllocated(e) => Some(&e.raffle),
            Body::RsuSealed(e) => Some(&e.raffle),
            Body::RsuReleased(e) => Some(&e.raffle),
            Body::RsuUnreconcilable(e) => Some(&e.raffle),
            Body::RsuRejected(e) => Some(&e.record.raffle),
            Body::RsuReprinted(e) => Some(&e.raffle),
            Body::RaffleCreated(e) => Some(&e.raffle),
            Body::RaffleUpdated(e) => Some(&e.raffle),
            Body::RaffleOpened(e) => Some(&e.raffle),
            Body::Sale(e) => Some(&e.raffle),
            Body::SaleVoided(e) => Some(&e.raffle),
            Body::RaffleClosed(e) => Some(&e.raffle),
            Body::ReconciliationAcknowledged(e) => Some(&e.raffle),
            Body::DrawFrozen(e) => Some(&e.raffle),
            Body::DrawPerformed(e) => Some(&e.raffle),
            Body::ClaimPaid(e) => Some(&e.raffle),
        }
    }

    /// The canonical bytes. Fails if the entry is not valid (see [`Entry::validate`])
    /// or would exceed 65,535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let encoded = match (self.version, &self.body) {
            (1, Body::ClaimPaid(c)) => serde_json::to_vec(&Encoded {
                v: 1,
                body: &BodyOld::ClaimPaid(ClaimPaidV1 {
                    raffle: &c.raffle,
                    draw: &c.draw,
                    sale: &c.sale,
                    number: c.number,
                    validation_number: &c.validation_number,
                    prize: c.prize,
                    paperwork: c.paperwork,
                    by: &c.by,
                }),
                time: self.time,
            }),
            (v, Body::RaffleOpened(o)) if v < 3 => serde_json::to_vec(&Encoded {
                v,
                body: &BodyOld::RaffleOpened(RaffleOpenedV2 {
                    raffle: &o.raffle,
                    by: &o.by,
                }),
                time: self.time,
            }),
            (v, Body::Sale(e)) if v < 4 => serde_json::to_vec(&Encoded {
                v,
                body: &BodyOld::Sale(SaleV3 {
                    raffle: &e.raffle,
                    sale: &e.sale,
                    package: &e.package,
                    quantity: e.quantity,
                    numbers: &e.numbers,
                    price: e.price,
                    channel: e.channel,
                    rsu: e.rsu.as_deref(),
                    stamped: e.stamped,
                    validation: e.validation,
                }),
                time: self.time,
            }),
            (v, body) => serde_json::to_vec(&Encoded {
                v,
                body,
                time: self.time,
            }),
        };
        let bytes = encoded.map_err(|e| Error::invalid("entry", e.to_string()))?;
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(Error::invalid(
                "entry",
                format!("{} bytes exceeds {MAX_ENTRY_SIZE}", bytes.len()),
            ));
        }
        Ok(bytes)
    }

    /// Parses an entry, accepting only its canonical form.
    pub fn parse(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(Error::invalid(
                "entry",
                format!("{} bytes exceeds {MAX_ENTRY_SIZE}", bytes.len()),
            ));
        }
        let header: Header = serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid("entry", format!("not a JSON object with v and type: {e}"))
        })?;
        let kind = header
            .kind
            .ok_or_else(|| Error::invalid("entry", "no type"))?;
        let version = header
            .v
            .as_u64()
            .filter(|v| (OLDEST_VERSION..=SCHEMA_VERSION).contains(v))
            .ok_or_else(|| Error::UnknownEntry(format!("version {} of type {kind:?}", header.v)))?;
        if !TYPES.contains(&kind.as_str()) || (version < 4 && RSU_TYPES.contains(&kind.as_str())) {
            return Err(Error::UnknownEntry(format!(
                "type {kind:?} in version {version}"
            )));
        }
        let decoded: Decoded = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid("entry", format!("{kind}: {e}")))?;
        debug_assert_eq!(decoded.v, version);
        let entry = Entry {
            version,
            time: decoded.time,
            body: decoded.body,
        };
        entry
            .validate()
            .map_err(|e| Error::invalid("entry", format!("{kind}: {e}")))?;
        if entry.to_bytes()? != bytes {
            return Err(Error::invalid(
                "entry",
                format!(
                    "{kind}: not in canonical form (compact JSON, fields in schema order, no unknown or repeated fields)"
                ),
            ));
        }
        Ok(entry)
    }

    /// Checks what the field types cannot: ranges, the consistency of a
    /// configuration, fields that exist only from some version. Identifiers
    /// are checked when they are parsed (their types, [`crate::ids`]), so an
    /// entry holding a malformed one cannot exist.
    pub fn validate(&self) -> Result<()> {
        match &self.body {
            Body::SoftwareStarted(e) => {
                if e.program.is_empty() || e.version.is_empty() {
                    return Err(Error::invalid(
                        "software.started",
                        "empty program or version",
                    ));
                }
            }
            Body::RaffleCreated(e) => {
                validate_config(&e.config)?;
            }
            Body::RaffleUpdated(e) => {
                validate_config(&e.old)?;
                validate_config(&e.new)?;
            }
            Body::Sale(e) => {
                if e.numbers.count.0 == 0 || e.quantity == 0 {
                    return Err(Error::invalid("sale", "no draw numbers"));
                }
                if e.numbers.first.0.checked_add(e.numbers.count.0).is_none() {
                    return Err(Error::invalid("sale", "draw numbers overflow"));
                }
                match (&e.channel, &e.rsu) {
                    (Channel::Rsu, Some(_)) | (Channel::Online, None) => {}
                    _ => {
                        return Err(Error::invalid(
                            "sale",
                            "an RSU sale names its RSU, an online sale none",
                        ));
                    }
                }
                if self.version >= 4 && (e.channel == Channel::Rsu) != e.device.is_some() {
                    return Err(Error::invalid(
                        "sale",
                        "an RSU sale carries its device record, an online sale none",
                    ));
                }
                if self.version < 4 && e.device.is_some() {
                    return Err(Error::invalid(
                        "sale",
                        "device exists from schema version 4",
                    ));
                }
                if let Some(d) = &e.device {
                    check_record_shape("sale", d.seq.0, &d.signature)?;
                }
            }
            Body::DrawPerformed(e) => {
                if e.seed.0.len() != 32 {
                    return Err(Error::invalid(
                        "draw.performed",
                        "the seed must be 32 bytes",
                    ));
                }
                if e.raw.is_empty() {
                    return Err(Error::invalid("draw.performed", "no raw values"));
                }
            }
            Body::ClaimPaid(e) => {
                crate::validation::ValidationNumber::parse(&e.validation_number)?;
                if e.supervised_by.is_some() && self.version < 2 {
                    return Err(Error::invalid(
                        "claim.paid",
                        "supervised_by exists from schema version 2",
                    ));
                }
            }
            Body::EventsDigest(e) => {
                if e.first.0 > e.last.0 || e.count.0 != e.last.0 - e.first.0 + 1 {
                    return Err(Error::invalid(
                        "events.digest",
                        "count does not match first..last",
                    ));
                }
            }
            Body::RaffleOpened(e) => {
                if e.payment_account.is_some() && self.version < 3 {
                    return Err(Error::invalid(
                        "raffle.opened",
                        "payment_account exists from schema version 3",
                    ));
                }
            }
            Body::RsuAllocated(e) => {
                if e.numbers.count.0 == 0
                    || e.numbers.first.0.checked_add(e.numbers.count.0).is_none()
                {
                    return Err(Error::invalid(
                        "rsu.allocated",
                        "no draw numbers, or too many",
                    ));
                }
            }
            Body::RsuSealed(e) => {
                if e.signature.0.len() != 64 {
                    return Err(Error::invalid(
                        "rsu.sealed",
                        "the signature must be 64 bytes",
                    ));
                }
            }
            // A refused record is logged as the device signed it, whatever
            // its numbers say (a count of 0, an overflowing range): only
            // its place in the chain and its signature's size are required.
            Body::RsuRejected(e) => {
                check_record_shape("rsu.rejected", e.record.seq.0, &e.record.signature)?;
            }
            Body::RsuReprinted(e) => {
                check_record_shape("rsu.reprinted", e.seq.0, &e.signature)?;
                if e.copy == 0 {
                    return Err(Error::invalid("rsu.reprinted", "copies count from 1"));
                }
                if e.operator == e.supervisor {
                    return Err(Error::invalid(
                        "rsu.reprinted",
                        "the supervisor must be another operator",
                    ));
                }
            }
            Body::SaleVoided(_)
            | Body::RaffleClosed(_)
            | Body::ReconciliationAcknowledged(_)
            | Body::DrawFrozen(_)
            | Body::RsuEnrolled(_)
            | Body::RsuEnabled(_)
            | Body::RsuDisabled(_)
            | Body::RsuSeen(_)
            | Body::RsuReleased(_)
            | Body::RsuUnreconcilable(_) => {}
        }
        Ok(())
    }
}

/// A device record's sequence starts at 1 and its signature is 64 bytes.
fn check_record_shape(kind: &'static str, seq: u64, signature: &HexBytes) -> Result<()> {
    if seq == 0 {
        return Err(Error::invalid(kind, "device sequences start at 1"));
    }
    if signature.0.len() != 64 {
        return Err(Error::invalid(kind, "the signature must be 64 bytes"));
    }
    Ok(())
}

/// Checks a raffle configuration's internal consistency.
pub fn validate_config(c: &RaffleConfig) -> Result<()> {
    let bad = |r: &str| Err(Error::invalid("raffle configuration", r.to_string()));
    if c.name.trim().is_empty() || c.organisation.trim().is_empty() {
        return bad("a name and an organisation are required");
    }
    if c.packages.is_empty() {
        return bad("at least one package is required");
    }
    let currency = c.packages[0].price.currency;
    for p in &c.packages {
        if p.tickets == 0 || p.price.minor == 0 {
            return bad("a package has at least one ticket and a price");
        }
        if p.price.currency != currency {
            return bad("all prices are in one currency");
        }
    }
    if c.packages
        .iter()
        .enumerate()
        .any(|(i, p)| c.packages[..i].iter().any(|q| q.id == p.id))
    {
        return bad("package ids must be unique");
    }
    if c.sales_start >= c.sales_end {
        return bad("the sales window must end after it starts");
    }
    if c.draws.is_empty() {
        return bad("at least one draw is required");
    }
    for (i, d) in c.draws.iter().enumerate() {
        if c.draws[..i].iter().any(|e| e.id == d.id) {
            return bad("draw ids must be unique");
        }
        if d.cutoff > c.sales_end || d.cutoff <= c.sales_start {
            return bad("each draw's cutoff must fall within the sales window");
        }
        if d.draw_at < d.cutoff {
            return bad("a draw cannot be scheduled before its cutoff");
        }
        match &d.prize {
            Prize::Share { share_bps, cap } => {
                if *share_bps == 0 || u64::from(*share_bps) > crate::prize::BPS_DENOMINATOR {
                    return bad("a prize share is 1 to 10,000 basis points");
                }
                if cap.is_some_and(|c| c.currency != currency) {
                    return bad("the prize cap is in the raffle's currency");
                }
            }
            Prize::Fixed { amount } => {
                if amount.currency != currency || amount.minor == 0 {
                    return bad("a fixed prize is a positive amount in the raffle's currency");
                }
            }
        }
    }
    use crate::Role;
    if c.approvers.is_empty()
        || c.approvers
            .iter()
            .any(|r| !matches!(r, Role::Finance | Role::Administrator))
    {
        return bad("approvers are one or more of finance and administrator");
    }
    if c.buyers.regions.is_empty()
        || c.buyers
            .regions
            .iter()
            .any(|r| r.is_empty() || r.len() > 16)
    {
        return bad("at least one buyer region (e.g. CA-ON) is required");
    }
    if c.max_tickets.is_some_and(|m| m.0 == 0) {
        return bad("a ticket maximum must be positive");
    }
    if !(1..=3650).contains(&c.claims.window_days) {
        return bad("the claim window is 1 to 3650 days");
    }
    if let Some(t) = c.claims.paperwork_over
        && (t.currency != currency || t.minor == 0)
    {
        return bad("the paperwork threshold must be a positive amount in the raffle's currency");
    }
    Ok(())
}

/// The example raffle's configuration (the one [`examples`] creates): a
/// 50/50 with three packages, an early-bird and a main draw. The demo and
/// the tests start from it.
pub fn example_config() -> RaffleConfig {
    use crate::{Currency, Money};
    let cad = |minor| Money::new(minor, Currency::CAD);
    let t = |s: &str| Timestamp::parse(s).expect("example time");
    RaffleConfig {
        name: "Hospital Foundation 50/50".into(),
        organisation: "Example Hospital Foundation".into(),
        licence: Some("M123456".into()),
        jurisdiction: "CA-ON".into(),
        time_zone: "America/Toronto".into(),
        buyers: BuyerRules {
            minimum_age: 18,
            regions: vec!["CA-ON".into()],
        },
        approvers: vec![crate::Role::Finance],
        packages: vec![
            Package {
                id: "p1".parse().expect("example id"),
                tickets: 1,
                price: cad(500),
            },
            Package {
                id: "p3".parse().expect("example id"),
                tickets: 3,
                price: cad(1000),
            },
            Package {
                id: "p10".parse().expect("example id"),
                tickets: 10,
                price: cad(2000),
            },
        ],
        max_tickets: Some(U64(1_000_000)),
        first_number: U64(1),
        sales_start: t("2026-12-01T14:00:00.000000Z"),
        sales_end: t("2026-12-20T23:00:00.000000Z"),
        draws: vec![
            DrawConfig {
                id: "early-bird".parse().expect("example id"),
                name: "Early bird".into(),
                cutoff: t("2026-12-10T23:00:00.000000Z"),
                draw_at: t("2026-12-11T16:00:00.000000Z"),
                prize: Prize::Fixed {
                    amount: cad(100_000),
                },
            },
            DrawConfig {
                id: "main".parse().expect("example id"),
                name: "Main draw".into(),
                cutoff: t("2026-12-20T23:00:00.000000Z"),
                draw_at: t("2026-12-21T16:00:00.000000Z"),
                prize: Prize::Share {
                    share_bps: 5000,
                    cap: None,
                },
            },
        ],
        wins: WinRule::NumberOnce,
        early_bird: EarlyBirdDeduction::FromMainPrize,
        claims: ClaimRules {
            window_days: 30,
            unclaimed: UnclaimedRule::Redraw,
            paperwork_over: Some(cad(1_000_000)),
        },
    }
}

/// One example of every entry type, in the order of [`TYPES`] (used by the
/// docs and the tests; the values are illustrative).
pub fn examples() -> Vec<Entry> {
    use crate::{Currency, Money};
    let raffle: RaffleId = "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10"
        .parse()
        .expect("example id");
    let sale: SaleId = "5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a"
        .parse()
        .expect("example id");
    let staff: StaffId = "s_3f9a1c0d5e7b2a46".parse().expect("example id");
    let approver: StaffId = "s_8c2e4a6f1b3d5970".parse().expect("example id");
    let rsu: RsuId = "gate-3".parse().expect("example id");
    let cad = |minor| Money::new(minor, Currency::CAD);
    let t = |s: &str| Timestamp::parse(s).expect("example time");
    let config = example_config();
    let mut updated = config.clone();
    updated.packages[2].price = cad(2500);
    let hash = |b: u8| Digest32([b; 32]);
    let bodies = vec![
        Body::SoftwareStarted(SoftwareStarted {
            program: "raffled".into(),
            version: "0.1.0".into(),
            sha256: hash(0x11),
        }),
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config: config.clone(),
            by: staff.clone(),
        }),
        Body::RaffleUpdated(Box::new(RaffleUpdated {
            raffle: raffle.clone(),
            old: config,
            new: updated,
            by: staff.clone(),
        })),
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff.clone(),
            payment_account: Some(Digest32([0x33; 32])),
        }),
        Body::Sale(Sale {
            raffle: raffle.clone(),
            sale: sale.clone(),
            package: "p3".parse().expect("example id"),
            quantity: 1,
            numbers: NumberRange {
                first: U64(1),
                count: U64(3),
            },
            price: cad(1000),
            channel: Channel::Online,
            rsu: None,
            stamped: t("2026-12-01T14:05:12.345678Z"),
            validation: hash(0x22),
            device: None,
        }),
        Body::SaleVoided(SaleVoided {
            raffle: raffle.clone(),
            sale: sale.clone(),
            reason: VoidReason::BuyerRequest,
            refund: true,
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
        Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }),
        Body::ReconciliationAcknowledged(ReconciliationAcknowledged {
            raffle: raffle.clone(),
            draw: "main".parse().expect("example id"),
            sales: U64(2),
            gross: cad(3000),
            voids: U64(1),
            voided: cad(1000),
            refunded: cad(1000),
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
        Body::DrawFrozen(DrawFrozen {
            raffle: raffle.clone(),
            draw: "main".parse().expect("example id"),
            n: U64(10),
            eligible_sha256: hash(0x33),
            seed_sha256: hash(0x44),
            prize: cad(1000),
        }),
        Body::DrawPerformed(DrawPerformed {
            raffle: raffle.clone(),
            draw: "main".parse().expect("example id"),
            frozen: U64(8),
            seed: HexBytes(vec![0x55; 32]),
            contribution: HexBytes(vec![]),
            raw: vec![11460774541426949705],
            index: U64(5),
            winner: U64(9),
            sale: sale.clone(),
            redraw: None,
        }),
        Body::ClaimPaid(ClaimPaid {
            raffle: raffle.clone(),
            draw: "main".parse().expect("example id"),
            sale: sale.clone(),
            number: U64(9),
            validation_number: crate::validation::ValidationNumber::from_u128(
                0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            )
            .to_text(),
            prize: cad(1000),
            paperwork: false,
            by: approver.clone(),
            supervised_by: None,
        }),
        Body::EventsDigest(EventsDigest {
            first: U64(1),
            last: U64(40),
            count: U64(40),
            sha256: hash(0x66),
        }),
        Body::RsuEnrolled(RsuEnrolled {
            rsu: rsu.clone(),
            key: hash(0x77),
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
        Body::RsuEnabled(RsuEnabled {
            rsu: rsu.clone(),
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
        Body::RsuDisabled(RsuDisabled {
            rsu: rsu.clone(),
            reason: DisableReason::Remote,
            by: Some(staff.clone()),
        }),
        Body::RsuAllocated(RsuAllocated {
            raffle: raffle.clone(),
            rsu: rsu.clone(),
            numbers: NumberRange {
                first: U64(1001),
                count: U64(500),
            },
            by: staff.clone(),
        }),
        Body::RsuSeen(RsuSeen {
            rsu: rsu.clone(),
            seq: U64(12),
            hash: hash(0x88),
        }),
        Body::RsuSealed(RsuSealed {
            raffle: raffle.clone(),
            draw: "early-bird".parse().expect("example id"),
            rsu: rsu.clone(),
            seq: U64(12),
            hash: hash(0x88),
            device_time: t("2026-12-10T23:00:04.000000Z"),
            signature: HexBytes(vec![0x99; 64]),
        }),
        Body::RsuReleased(RsuReleased {
            raffle: raffle.clone(),
            rsu: rsu.clone(),
            count: U64(120),
        }),
        Body::RsuUnreconcilable(RsuUnreconcilable {
            raffle: raffle.clone(),
            draw: "main".parse().expect("example id"),
            rsu: rsu.clone(),
            uploaded: U64(40),
            reason: UnreconcilableReason::Lost,
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
        Body::RsuRejected(Box::new(RsuRejected {
            record: RsuRecord {
                raffle: raffle.clone(),
                rsu: rsu.clone(),
                seq: U64(13),
                prev: hash(0x88),
                package: "p1".parse().expect("example id"),
                quantity: 1,
                numbers: NumberRange {
                    first: U64(1041),
                    count: U64(1),
                },
                price: cad(500),
                payment: PaymentMethod::Cash,
                validation: hash(0xaa),
                device_time: t("2026-12-20T23:05:00.000000Z"),
                operator: "s_5c2e8b1f0a7d3964".parse().expect("example id"),
                signature: HexBytes(vec![0xbb; 64]),
            },
            received: t("2026-12-20T23:20:00.000000Z"),
            reason: RejectReason::OutsideSalesWindow,
        })),
        Body::RsuReprinted(RsuReprinted {
            raffle: raffle.clone(),
            rsu: rsu.clone(),
            seq: U64(12),
            copy: 1,
            operator: "s_5c2e8b1f0a7d3964".parse().expect("example id"),
            supervisor: "s_71d0c3e9a4b28f56".parse().expect("example id"),
            device_time: t("2026-12-10T22:41:07.000000Z"),
            signature: HexBytes(vec![0xcc; 64]),
            received: t("2026-12-22T12:00:09.500000Z"),
        }),
    ];
    let times = [
        "2026-11-28T09:00:00.000000Z",
        "2026-11-28T09:15:02.120000Z",
        "2026-11-28T10:02:45.000001Z",
        "2026-12-01T14:00:00.500000Z",
        "2026-12-01T14:05:12.401230Z",
        "2026-12-02T08:30:00.000000Z",
        "2026-12-20T23:00:00.012000Z",
        "2026-12-21T10:00:00.000000Z",
        "2026-12-21T15:30:00.000000Z",
        "2026-12-21T16:00:01.250000Z",
        "2026-12-22T11:20:00.000000Z",
        "2026-12-22T12:00:00.000000Z",
        "2026-12-22T12:00:01.000000Z",
        "2026-12-22T12:00:02.000000Z",
        "2026-12-22T12:00:03.000000Z",
        "2026-12-22T12:00:04.000000Z",
        "2026-12-22T12:00:05.000000Z",
        "2026-12-22T12:00:06.000000Z",
        "2026-12-22T12:00:07.000000Z",
        "2026-12-22T12:00:08.000000Z",
        "2026-12-22T12:00:09.000000Z",
        "2026-12-22T12:00:10.000000Z",
    ];
    bodies
        .into_iter()
        .zip(times)
        .map(|(body, time)| Entry::new(t(time), body))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_4_types_are_exactly_the_rsu_ones() {
        assert_eq!(RSU_TYPES.len(), 10);
        assert!(RSU_TYPES.iter().all(|t| t.starts_with("rsu.")));
        assert!(
            TYPES[..TYPES.len() - 10]
                .iter()
                .all(|t| !t.starts_with("rsu."))
        );
    }

    #[test]
    fn every_example_round_trips_canonically() {
        let ex = examples();
        assert_eq!(ex.iter().map(Entry::kind).collect::<Vec<_>>(), TYPES);
        for e in ex {
            let bytes = e.to_bytes().unwrap();
            assert!(
                bytes.starts_with(b"{\"v\":4,\"type\":\""),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(Entry::parse(&bytes).unwrap(), e);
        }
    }

    #[test]
    fn non_canonical_unknown_and_malformed_entries_are_rejected_with_a_reason() {
        let sale = examples().into_iter().find(|e| e.kind() == "sale").unwrap();
        let good = String::from_utf8(sale.to_bytes().unwrap()).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (
                good.replacen(",\"quantity\":1", ",\"quantity\":1,\"extra\":1", 1),
                "unknown field",
            ),
            (
                good.replacen("\"quantity\":1", "\"quantity\":1,\"quantity\":1", 1),
                "duplicate field",
            ),
            (good.replacen("{\"v\":4,", "{\"v\":4, ", 1), "canonical"),
            (
                good.replacen("{\"v\":4,", "{\"v\":5,", 1),
                "upgrade raffle-audit",
            ),
            (
                good.replacen("{\"v\":4,", "{\"v\":0,", 1),
                "upgrade raffle-audit",
            ),
            (
                good.replacen("\"type\":\"sale\"", "\"type\":\"sale.resold\"", 1),
                "upgrade raffle-audit",
            ),
            (
                good.replacen("\"first\":\"1\"", "\"first\":1", 1),
                "invalid type",
            ),
            (
                good.replacen("\"first\":\"1\"", "\"first\":\"01\"", 1),
                "leading zeroes",
            ),
            (good.replacen(".345678Z", "Z", 1), "timestamp"),
            (
                good.replacen("\"channel\":\"online\"", "\"channel\":\"rsu\"", 1),
                "names its RSU",
            ),
            (good.replacen("2222", "22", 1), "hex"),
            // Identifiers are parsed with the entry: a malformed one names itself.
            (
                good.replacen("0b6f0b5e-6d2a", "0B6F0B5E-6D2A", 1),
                "raffle id",
            ),
            (good.replacen("5d3c2b1a-0f9e", "5d3c2b1a0f9e", 1), "sale id"),
            (
                good.replacen("\"package\":\"p3\"", "\"package\":\"P 3\"", 1),
                "package id",
            ),
            ("[]".to_string(), "not a JSON object"),
            ("{\"v\":2}".to_string(), "no type"),
        ];
        for (bad, want) in cases {
            let err = Entry::parse(bad.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}\n  -> {err}");
        }
    }

    #[test]
    fn earlier_raffle_opened_entries_are_read_and_keep_their_version() {
        let opened = examples()
            .into_iter()
            .find(|e| e.kind() == "raffle.opened")
            .unwrap();
        let v3 = String::from_utf8(opened.to_bytes().unwrap()).unwrap();
        assert!(
            v3.contains(&format!(
                ",\"payment_account\":\"{}\",\"time\"",
                "33".repeat(32)
            )),
            "{v3}"
        );
        let Body::RaffleOpened(mut body) = opened.body.clone() else {
            panic!()
        };
        // Versions 1 and 2 have no payment_account: read as none.
        for v in [1, 2] {
            let old = v3
                .replacen("{\"v\":4,", &format!("{{\"v\":{v},"), 1)
                .replacen(
                    &format!(",\"payment_account\":\"{}\"", "33".repeat(32)),
                    "",
                    1,
                );
            let read = Entry::parse(old.as_bytes()).unwrap();
            assert_eq!(read.version, v);
            body.payment_account = None;
            assert_eq!(read.body, Body::RaffleOpened(body.clone()));
            assert_eq!(
                read.to_bytes().unwrap(),
                old.as_bytes(),
                "re-encoded as version {v}"
            );
            // The field, even null, does not exist before version 3.
            let with_null = old.replacen(",\"time\"", ",\"payment_account\":null,\"time\"", 1);
            assert!(
                Entry::parse(with_null.as_bytes())
                    .unwrap_err()
                    .to_string()
                    .contains("canonical")
            );
        }
        // Version 3 always writes it, null when the raffle takes no cards.
        let none = Entry::new(opened.time, Body::RaffleOpened(body.clone()));
        let bytes = String::from_utf8(none.to_bytes().unwrap()).unwrap();
        assert!(
            bytes.contains(",\"payment_account\":null,\"time\""),
            "{bytes}"
        );
        let missing = bytes.replacen(",\"payment_account\":null", "", 1);
        assert!(
            Entry::parse(missing.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("canonical")
        );
        body.payment_account = Some(Digest32([1; 32]));
        let old = Entry::at_version(2, opened.time, Body::RaffleOpened(body));
        assert!(
            old.to_bytes()
                .unwrap_err()
                .to_string()
                .contains("version 3")
        );
    }

    #[test]
    fn version_1_claims_are_read_and_keep_their_version() {
        let claim = examples()
            .into_iter()
            .find(|e| e.kind() == "claim.paid")
            .unwrap();
        let v3 = String::from_utf8(claim.to_bytes().unwrap()).unwrap();
        assert!(v3.contains(",\"supervised_by\":null,\"time\""), "{v3}");
        // Version 2 wrote claims as version 3 does.
        let v2 = v3.replacen("{\"v\":4,", "{\"v\":2,", 1);
        assert_eq!(Entry::parse(v2.as_bytes()).unwrap().version, 2);
        let v1 =
            v2.replacen("{\"v\":2,", "{\"v\":1,", 1)
                .replacen(",\"supervised_by\":null", "", 1);
        let read = Entry::parse(v1.as_bytes()).unwrap();
        assert_eq!(read.version, 1);
        assert_eq!(read.body, claim.body);
        assert_eq!(
            read.to_bytes().unwrap(),
            v1.as_bytes(),
            "re-encoded as version 1"
        );
        let Body::ClaimPaid(mut supervised) = claim.body.clone() else {
            panic!()
        };
        supervised.supervised_by = Some("s_0123456789abcdef".parse().unwrap());
        let e = Entry::new(claim.time, Body::ClaimPaid(supervised.clone()));
        assert_eq!(Entry::parse(&e.to_bytes().unwrap()).unwrap(), e);
        let old = Entry::at_version(1, claim.time, Body::ClaimPaid(supervised));
        assert!(
            old.to_bytes()
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        for (bad, want) in [
            // A version 1 entry naming a supervisor, and a version 2 one without the field.
            (
                v1.replacen(",\"time\"", ",\"supervised_by\":null,\"time\"", 1),
                "canonical",
            ),
            (v2.replacen(",\"supervised_by\":null", "", 1), "canonical"),
            (
                v2.replacen("\"supervised_by\":null", "\"supervised_by\":\"bob\"", 1),
                "staff id",
            ),
        ] {
            let err = Entry::parse(bad.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}\n  -> {err}");
        }
    }

    #[test]
    fn configurations_are_checked() {
        let Body::RaffleCreated(created) = &examples()[1].body else {
            panic!()
        };
        validate_config(&created.config).unwrap();
        let mut c = created.config.clone();
        c.sales_end = c.sales_start;
        assert!(validate_config(&c).is_err());
        let mut c = created.config.clone();
        c.draws[1].id = "early-bird".parse().unwrap();
        assert!(validate_config(&c).is_err());
        let mut c = created.config.clone();
        c.packages[0].price = Money::new(500, crate::Currency::parse("USD").unwrap());
        assert!(validate_config(&c).is_err());
    }
}
