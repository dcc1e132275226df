//! Every user-facing string of the pages comes from one catalogue per
//! language (`web/i18n/<lang>.txt`, `key = text` lines, compiled in), and
//! amounts and times are formatted for the language: English and French
//! (Canada), times in the raffle's time zone, 24-hour.
//!
//! Guarantees: both catalogues hold the same keys, and every key the pages
//! ask for is in both (tests fail otherwise); a key missing at run time
//! shows as the key itself, never a panic.

use axum::http::HeaderMap;
use raffle_core::{Money, Timestamp};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A language the site speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    FrCa,
}

pub const LANGS: [Lang; 2] = [Lang::En, Lang::FrCa];

const EN: &str = include_str!("../i18n/en.txt");
const FR_CA: &str = include_str!("../i18n/fr-CA.txt");

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and `?lang=`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::FrCa => "fr-CA",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::FrCa => "Français",
        }
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::FrCa),
            _ => None,
        }
    }

    /// `?lang=` first, then the browser's languages in order of preference
    /// (`Accept-Language` q-values), then English.
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut prefs: Vec<(f32, Lang)> = accept
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0));
        prefs.first().map_or(Lang::En, |p| p.1)
    }

    fn catalogue(self) -> &'static HashMap<&'static str, &'static str> {
        static CATALOGUES: OnceLock<[HashMap<&'static str, &'static str>; 2]> = OnceLock::new();
        let all = CATALOGUES.get_or_init(|| [parse_catalogue(EN), parse_catalogue(FR_CA)]);
        match self {
            Lang::En => &all[0],
            Lang::FrCa => &all[1],
        }
    }

    /// The text of `key`.
    pub fn t(self, key: &'static str) -> &'static str {
        self.catalogue().get(key).copied().unwrap_or(key)
    }

    /// The text of `key` with its `{name}` marks filled in.
    pub fn f(self, key: &'static str, args: &[(&str, &str)]) -> String {
        fill(self.t(key), args)
    }

    /// The text of `key` for a count of `n`: the catalogue's `key.one` or
    /// `key.other`, by the language's rule (English: one for 1; French:
    /// one for 0 and 1), with `{count}` set to `n` as [`Lang::count`]
    /// writes it and the other marks from `args`.
    pub fn plural(self, key: &'static str, n: u64, args: &[(&str, &str)]) -> String {
        let singular = match self {
            Lang::En => n == 1,
            Lang::FrCa => n <= 1,
        };
        let form = format!("{key}.{}", if singular { "one" } else { "other" });
        let text = self.catalogue().get(form.as_str()).copied().unwrap_or(key);
        let count = self.count(n);
        let mut all = vec![("count", count.as_str())];
        all.extend_from_slice(args);
        fill(text, &all)
    }

    /// An amount: `$1,234.56` in English, `1 234,56 $` in French (Canada);
    /// other currencies carry their code.
    pub fn money(self, m: Money) -> String {
        let (whole, cents) = m.parts();
        let currency = m.currency.as_str();
        match self {
            Lang::En => {
                let n = group(whole, ",");
                if currency == "CAD" {
                    format!("${n}.{cents:02}")
                } else {
                    format!("{n}.{cents:02} {currency}")
                }
            }
            Lang::FrCa => {
                let n = group(whole, "\u{a0}");
                if currency == "CAD" {
                    format!("{n},{cents:02}\u{a0}$")
                } else {
                    format!("{n},{cents:02}\u{a0}{currency}")
                }
            }
        }
    }

    /// A count with the language's digit grouping.
    pub fn count(self, n: u64) -> String {
        match self {
            Lang::En => group(n, ","),
            Lang::FrCa => group(n, "\u{a0}"),
        }
    }

    /// A share in basis points as a percentage (`50%`, `50 %`).
    pub fn share(self, bps: u32) -> String {
        let whole = bps / 100;
        let frac = bps % 100;
        let n = if frac == 0 {
            whole.to_string()
        } else {
            let sep = if self == Lang::En { "." } else { "," };
            format!("{whole}{sep}{frac:02}")
        };
        match self {
            Lang::En => format!("{n}%"),
            Lang::FrCa => format!("{n}\u{a0}%"),
        }
    }

    /// A time in the raffle's time zone, 24-hour, with the zone's
    /// abbreviation: `2026-12-20 18:00 EST`. An unknown zone shows UTC.
    pub fn time(self, t: Timestamp, zone: &str) -> String {
        let Ok(ts) = jiff::Timestamp::from_microsecond(t.as_micros()) else {
            return t.to_string();
        };
        let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let zoned = ts.to_zoned_datetime(tz);
        let abbreviation = zoned
            .time_zone()
            .to_offset_info(ts)
            .abbreviation()
            .to_string();
        match self {
            Lang::En => format!("{} {abbreviation}", zoned.strftime("%Y-%m-%d %H:%M")),
            Lang::FrCa => format!("{} {abbreviation}", zoned.strftime("%Y-%m-%d %H h %M")),
        }
    }
}

fn group(n: u64, sep: &str) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

fn parse_catalogue(text: &'static str) -> HashMap<&'static str, &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// A refusal stored as its code and parameters (JSON), in `lang`; `None`
/// for a code this build does not know (an older answer).
pub fn refusal_by_code(
    lang: Lang,
    code: &serde_json::Value,
    params: &serde_json::Value,
) -> Option<String> {
    let code = code.as_str()?;
    let key = raffle_core::Refusal::every()
        .into_iter()
        .find(|r| r.code() == code)?
        .key();
    let params: Vec<(&str, &str)> = params
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    Some(lang.f(key, &params))
}

/// A refusal in `lang`, from the catalogue's `refusal.<code>` text with
/// its `{param}` marks filled in.
pub fn refusal(lang: Lang, r: &raffle_core::Refusal) -> String {
    let params = r.params();
    let args: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    lang.f(r.key(), &args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(text: &'static str) -> BTreeSet<&'static str> {
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            assert!(
                l.is_empty() || l.starts_with('#') || l.contains(" = "),
                "line {} is not `key = text`: {line:?}",
                n + 1
            );
        }
        parse_catalogue(text).keys().copied().collect()
    }

    #[test]
    fn both_catalogues_hold_the_same_keys() {
        let (en, fr) = (keys(EN), keys(FR_CA));
        let missing_fr: Vec<_> = en.difference(&fr).collect();
        let missing_en: Vec<_> = fr.difference(&en).collect();
        assert!(
            missing_fr.is_empty(),
            "missing from fr-CA.txt: {missing_fr:?}"
        );
        assert!(missing_en.is_empty(), "missing from en.txt: {missing_en:?}");
    }

    /// Every refusal the rules make reads in both languages: its key is in
    /// both catalogues, each fills exactly the refusal's own parameters,
    /// and the English text is the refusal's own (the API's message).
    #[test]
    fn every_refusal_reads_in_both_catalogues() {
        let all = raffle_core::Refusal::every();
        assert!(all.len() > 50, "{} refusals", all.len());
        for r in &all {
            for lang in LANGS {
                let text = lang.t(r.key());
                assert_ne!(text, r.key(), "{} is missing from {}", r.key(), lang.tag());
                let mut marks: Vec<&str> = text
                    .split('{')
                    .skip(1)
                    .filter_map(|m| m.split_once('}').map(|(name, _)| name))
                    .collect();
                marks.sort();
                marks.dedup();
                let mut params: Vec<&str> = r.params().iter().map(|(k, _)| *k).collect();
                params.sort();
                assert_eq!(marks, params, "{} in {}: marks", r.key(), lang.tag());
                let filled = refusal(lang, r);
                assert!(
                    !filled.contains('{'),
                    "{} in {}: {filled}",
                    r.key(),
                    lang.tag()
                );
            }
            assert_eq!(
                format!("refused: {}", refusal(Lang::En, r)),
                raffle_core::Error::Refused(r.clone()).to_string(),
                "{}: the English catalogue and the API differ",
                r.key()
            );
            assert_ne!(
                refusal(Lang::FrCa, r),
                refusal(Lang::En, r),
                "{}: not translated",
                r.key()
            );
            // As a refunded order stores it: code and parameters.
            let stored = crate::error::AppError::refused(r.clone()).body();
            for lang in LANGS {
                assert_eq!(
                    refusal_by_code(lang, &stored["code"], &stored["params"]).as_deref(),
                    Some(refusal(lang, r).as_str())
                );
            }
        }
    }

    /// Every `.t("key")` and `.f("key", ...)` in the page code is in both
    /// catalogues.
    #[test]
    fn every_key_the_pages_use_is_in_both_catalogues() {
        // Every page source, the console's folder too; keys are asked for
        // with `.t("` and `.f("`, and the console also names them in tables
        // (`"console.…"` literals).
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![src.join("site"), src.join("console")];
        let mut used = BTreeSet::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split(".plural(\"").skip(1) {
                    let key = part.split('"').next().unwrap();
                    used.insert(format!("{key}.one"));
                    used.insert(format!("{key}.other"));
                }
                for call in [".t(\"", ".f(\"", "\"console."] {
                    for part in text.split(call).skip(1) {
                        let key = part.split('"').next().unwrap();
                        let key = if call == "\"console." {
                            format!("console.{key}")
                        } else {
                            key.to_string()
                        };
                        // A literal that only starts a key (`"console.` in
                        // a format string) is not one.
                        if !key.ends_with('.') && !key.contains(['{', ' ', '/']) {
                            used.insert(key);
                        }
                    }
                }
            }
        }
        assert!(used.len() > 20, "{used:?}");
        for lang in LANGS {
            for key in &used {
                assert!(
                    lang.catalogue().contains_key(key.as_str()),
                    "{key:?} is missing from the {} catalogue",
                    lang.tag()
                );
            }
        }
    }

    /// Counted words agree with their count in both languages.
    #[test]
    fn counted_words_take_their_plural_forms() {
        let range = |lang: Lang, n| {
            lang.plural("receipt.numbers.range", n, &[("first", "2"), ("last", "2")])
        };
        assert_eq!(range(Lang::En, 1), "2 to 2 (1 number)");
        assert_eq!(range(Lang::En, 3), "2 to 2 (3 numbers)");
        assert_eq!(range(Lang::FrCa, 1), "2 à 2 (1 numéro)");
        assert_eq!(range(Lang::FrCa, 0), "2 à 2 (0 numéro)");
        assert_eq!(range(Lang::FrCa, 2), "2 à 2 (2 numéros)");
        assert_eq!(
            Lang::En.plural("raffle.numbers.sold", 1500, &[]),
            "1,500 numbers sold"
        );
        assert_eq!(
            Lang::FrCa.plural("raffle.numbers.sold", 1, &[]),
            "1 numéro vendu"
        );
    }

    #[test]
    fn languages_come_from_the_query_then_the_browser() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::choose(None, &h), Lang::En);
        h.insert(
            "accept-language",
            "de-DE, fr-CA;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::choose(None, &h), Lang::FrCa);
        h.insert("accept-language", "en-GB;q=0.9, fr;q=0.95".parse().unwrap());
        assert_eq!(Lang::choose(None, &h), Lang::FrCa);
        assert_eq!(Lang::choose(Some("en"), &h), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), &h), Lang::FrCa);
    }

    #[test]
    fn amounts_and_times_follow_the_language_and_the_time_zone() {
        let cad = Money::new(123_456_789, raffle_core::Currency::CAD);
        assert_eq!(Lang::En.money(cad), "$1,234,567.89");
        assert_eq!(Lang::FrCa.money(cad), "1\u{a0}234\u{a0}567,89\u{a0}$");
        assert_eq!(Lang::En.share(5000), "50%");
        assert_eq!(Lang::FrCa.share(3750), "37,50\u{a0}%");
        let t = Timestamp::parse("2026-12-20T23:00:00.000000Z").unwrap();
        assert_eq!(Lang::En.time(t, "America/Toronto"), "2026-12-20 18:00 EST");
        assert_eq!(
            Lang::FrCa.time(t, "America/Toronto"),
            "2026-12-20 18 h 00 EST"
        );
        assert_eq!(Lang::En.time(t, "Nowhere/Else"), "2026-12-20 23:00 UTC");
    }
}
