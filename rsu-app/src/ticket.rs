//! The bearer ticket (GLI-31 2.3.1, 3.3): every field the checklist names,
//! in the operator's language, as ESC/POS. Two codes print as rasters
//! (`GS v 0`): the validation number, and the signed sale record
//! ([`record_code`]), with which a buyer can show what the unit signed
//! for them: a record the log lacks, or holds otherwise, proves a fork.
//! A reprint says REPRINT and its copy number (2.4).

use crate::escpos::Job;
use crate::i18n::Lang;
use base64::Engine as _;
use raffle_core::entry::{PaymentMethod, RsuRecord};
use raffle_core::rsu;

/// Dots across an 80 mm thermal printer's paper (203 dpi).
pub const PAPER_DOTS: usize = 576;

/// The raffle's details a ticket prints, from the server's answer.
#[derive(Clone, Debug)]
pub struct RaffleDetails {
    pub name: String,
    pub organisation: String,
    pub licence: Option<String>,
    pub time_zone: String,
}

/// A ticket to print.
pub struct Ticket<'a> {
    pub origin: &'a str,
    pub raffle: &'a RaffleDetails,
    pub record: &'a RsuRecord,
    pub validation_number: &'a str,
    /// 0 for the original; the reprint's number (from 1) for a reprint.
    pub reprint: u32,
    pub lang: Lang,
}

/// The signed record as a ticket's QR code carries it: the message the
/// unit signed (`raffle-rsu-sale/v1`, one field a line) and a last line
/// with the signature in base64.
pub fn record_code(origin: &str, r: &RsuRecord) -> String {
    let message = String::from_utf8(rsu::sale_message(origin, r)).expect("ASCII");
    format!(
        "{message}{}",
        base64::engine::general_purpose::STANDARD.encode(&r.signature.0)
    )
}

/// Checks a scanned record code against the unit's public key: the
/// message it carries, when the signature is the unit's.
pub fn verify_record_code(code: &str, key: &[u8; 32]) -> Option<String> {
    let (message, signature) = code.rsplit_once('\n')?;
    let message = format!("{message}\n");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .ok()?;
    rsu::verify(key, message.as_bytes(), &signature).then_some(message)
}

/// A QR code of `text` as raster rows, `scale` dots a module, with the
/// four-module quiet zone.
pub fn qr_rows(text: &str, scale: usize) -> Vec<Vec<bool>> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .expect("a record fits a QR code");
    let w = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = (w + 2 * quiet) * scale;
    (0..size)
        .map(|y| {
            (0..size)
                .map(|x| {
                    let (mx, my) = (x / scale, y / scale);
                    mx >= quiet
                        && my >= quiet
                        && mx < w + quiet
                        && my < w + quiet
                        && colors[(my - quiet) * w + (mx - quiet)] == qrcode::Color::Dark
                })
                .collect()
        })
        .collect()
}

/// The largest scale at which a QR of `text` fits the paper, at most `max`.
fn fitting_scale(text: &str, max: usize) -> usize {
    let modules = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .map(|c| c.width() + 8)
        .unwrap_or(PAPER_DOTS);
    (PAPER_DOTS / modules).clamp(1, max)
}

/// The ticket's time in the raffle's time zone, 24-hour (GLI-31 2.3.1).
pub fn local_time(at: raffle_core::Timestamp, time_zone: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_microsecond(at.as_micros()) else {
        return at.to_string();
    };
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = ts.to_zoned_datetime(tz);
    let abbreviation = zoned
        .time_zone()
        .to_offset_info(ts)
        .abbreviation()
        .to_string();
    format!("{} {abbreviation}", zoned.strftime("%Y-%m-%d %H:%M"))
}

/// Money as the ticket prints it: `12.50 CAD`.
pub fn money(m: raffle_core::Money) -> String {
    let (major, minor) = m.parts();
    format!("{major}.{minor:02} {}", m.currency)
}

/// The ticket's ESC/POS bytes.
pub fn render(t: &Ticket) -> Vec<u8> {
    let l = t.lang;
    let r = t.record;
    let mut j = Job::new();
    j.align(1);
    if t.reprint > 0 {
        // GLI-31 2.4: a reprint says so, large and reversed.
        j.large(true).reverse(true);
        j.line(&format!(" {} {} ", l.t("REPRINT"), t.reprint));
        j.reverse(false).large(false);
    }
    j.bold(true).line(&t.raffle.organisation).bold(false);
    j.large(true).line(&t.raffle.name).large(false);
    if let Some(licence) = &t.raffle.licence {
        j.line(&format!("{}: {licence}", l.t("Licence")));
    }
    j.line(&format!("{}: {}", l.t("Raffle"), r.raffle));
    j.feed(1).align(0);
    let first = r.numbers.first.0;
    let last = first + r.numbers.count.0.saturating_sub(1);
    j.bold(true);
    if r.numbers.count.0 == 1 {
        j.line(&format!("{}: {first}", l.t("Draw number")));
    } else {
        j.line(&format!(
            "{}: {first}-{last} ({})",
            l.t("Draw numbers"),
            r.numbers.count.0
        ));
    }
    j.bold(false);
    j.line(&format!(
        "{}: {}",
        l.t("Issued"),
        local_time(r.device_time, &t.raffle.time_zone)
    ));
    j.line(&format!("{}: {}", l.t("Sales unit"), r.rsu));
    j.line(&format!("{}: {}", l.t("Sale"), r.seq.0));
    j.line(&format!("{}: {}", l.t("Operator"), r.operator));
    j.line(&format!(
        "{}: {} ({})",
        l.t("Price"),
        money(r.price),
        match r.payment {
            PaymentMethod::Cash => l.t("cash"),
            PaymentMethod::Card => l.t("card"),
        }
    ));
    j.feed(1).align(1);
    j.line(l.t("Validation number"));
    j.bold(true).line(t.validation_number).bold(false);
    j.raster(
        PAPER_DOTS,
        &pad(&qr_rows(
            t.validation_number,
            fitting_scale(t.validation_number, 6),
        )),
    );
    j.line(l.t("Keep this ticket: it is needed to claim a prize."));
    j.feed(1);
    let code = record_code(t.origin, r);
    j.line(l.t("Signed sale record"));
    j.raster(PAPER_DOTS, &pad(&qr_rows(&code, fitting_scale(&code, 4))));
    j.line(l.t("Check it in the public log."));
    j.feed(3).cut();
    j.into_bytes()
}

/// Centres rows on the paper's width.
fn pad(rows: &[Vec<bool>]) -> Vec<Vec<bool>> {
    rows.iter()
        .map(|row| {
            let left = PAPER_DOTS.saturating_sub(row.len()) / 2;
            let mut out = vec![false; left];
            out.extend_from_slice(row);
            out.resize(PAPER_DOTS, false);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::{Command, parse, raster_rows};
    use raffle_core::entry::{Digest32, HexBytes, NumberRange, U64};
    use raffle_core::rsu::DeviceKey;
    use raffle_core::validation::ValidationNumber;
    use raffle_core::{Currency, Money, Timestamp};

    const ORIGIN: &str = "raffles.example/log";

    fn record(key: &DeviceKey, vn: &str) -> RsuRecord {
        let raffle: raffle_core::ids::RaffleId =
            "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10".parse().unwrap();
        let mut r = RsuRecord {
            validation: Digest32(
                ValidationNumber::parse(vn)
                    .unwrap()
                    .commitment(raffle.as_str()),
            ),
            raffle,
            rsu: "gate-3".parse().unwrap(),
            seq: U64(12),
            prev: Digest32([0xab; 32]),
            package: "p3".parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(100_041),
                count: U64(3),
            },
            price: Money::new(1_000, Currency::CAD),
            payment: PaymentMethod::Cash,
            device_time: Timestamp::parse("2026-12-10T22:41:07.000000Z").unwrap(),
            operator: "s_5c2e8b1f0a7d3964".parse().unwrap(),
            signature: HexBytes(Vec::new()),
        };
        key.sign_record(ORIGIN, &mut r);
        r
    }

    fn details() -> RaffleDetails {
        RaffleDetails {
            name: "Hospital 50/50 — décembre".into(),
            organisation: "Foundation of the Général".into(),
            licence: Some("RAF-1234".into()),
            time_zone: "America/Toronto".into(),
        }
    }

    /// The texts of a ticket and the contents of its QR codes, decoded by
    /// rqrr from the rasters.
    fn decode(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut texts = Vec::new();
        let mut codes = Vec::new();
        for c in parse(bytes).unwrap() {
            match c {
                Command::Text(t) => texts.push(t),
                Command::Raster {
                    width,
                    height,
                    data,
                } => {
                    let rows = raster_rows(width, height, &data);
                    let mut img =
                        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
                            if rows[y][x] { 0 } else { 255 }
                        });
                    let grids = img.detect_grids();
                    assert_eq!(grids.len(), 1, "one code a raster");
                    codes.push(grids[0].decode().unwrap().1);
                }
                _ => {}
            }
        }
        (texts, codes)
    }

    fn golden(name: &str, bytes: &[u8]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        if std::env::var_os("RAFFLE_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (RAFFLE_UPDATE_GOLDEN=1 writes it)", path.display())
        });
        assert!(want == bytes, "{name} differs from its golden copy");
    }

    #[test]
    fn a_ticket_prints_every_field_and_its_codes_read_back() {
        let key = DeviceKey::from_seed(&[3; 32]);
        let vn = ValidationNumber::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677).to_text();
        let r = record(&key, &vn);
        let d = details();
        for (lang, reprint, name) in [
            (Lang::En, 0, "ticket-en.escpos"),
            (Lang::Fr, 0, "ticket-fr.escpos"),
            (Lang::En, 2, "ticket-reprint-en.escpos"),
        ] {
            let bytes = render(&Ticket {
                origin: ORIGIN,
                raffle: &d,
                record: &r,
                validation_number: &vn,
                reprint,
                lang,
            });
            golden(name, &bytes);
            let (texts, codes) = decode(&bytes);
            let all = texts.join("\n");
            // GLI-31 2.3.1: organisation, event, every number, time (24 h),
            // unit, price, validation number, licence.
            for want in [
                "Foundation of the Général",
                "Hospital 50/50 ? décembre",
                "RAF-1234",
                "0b6f0b5e-6d2a-4b8e-9a53-4c1f3e2d7a10",
                "100041-100043 (3)",
                "2026-12-10 17:41 EST",
                "gate-3",
                "10.00 CAD",
                &vn,
            ] {
                assert!(all.contains(want), "{name}: {want:?} missing from\n{all}");
            }
            assert_eq!(all.contains(lang.t("REPRINT")), reprint > 0, "{name}");
            if reprint > 0 {
                assert!(all.contains("REPRINT 2"), "{all}");
            }
            if lang == Lang::Fr {
                assert!(all.contains("Numéros de tirage"), "{all}");
            }
            assert_eq!(codes.len(), 2);
            assert_eq!(codes[0], vn);
            // The signed record verifies with the unit's key, and names its
            // place in the chain and its numbers.
            let message = verify_record_code(&codes[1], &key.public()).expect("verifies");
            assert_eq!(message.as_bytes(), rsu::sale_message(ORIGIN, &r).as_slice());
            assert!(message.contains(&hex::encode([0xab; 32])));
            assert!(
                verify_record_code(&codes[1], &DeviceKey::from_seed(&[4; 32]).public()).is_none()
            );
            let forged = codes[1].replacen("100041", "100042", 1);
            assert!(verify_record_code(&forged, &key.public()).is_none());
        }
    }
}
