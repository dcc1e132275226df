//! CSRF protection for the site's forms (double-submit token).
//!
//! A page with a form sets a random 256-bit token in an `HttpOnly`,
//! `SameSite=Strict` cookie and puts the same token in a hidden field. A
//! form post is accepted only when both are present and equal (compared in
//! constant time) and, when the browser sends an `Origin` (pages use the
//! `same-origin` referrer policy, so it does), it is this site's. Another site can neither read the cookie nor make the browser
//! send it.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;

pub const COOKIE: &str = "raffle_csrf";
pub const FIELD: &str = "csrf";

/// The visitor's token, and the `Set-Cookie` header when it is new.
pub fn token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(t) = cookie(headers) {
        return (t, None);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator");
    let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let set = super::set_cookie(COOKIE, &t, "/", None);
    (t, Some(set))
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    super::cookies(headers, COOKIE)
        .find(|v| v.len() == 43)
        .map(str::to_string)
}

/// Whether a form post carries the visitor's token and comes from this site.
pub fn check(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    // "null" says nothing (a browser sends it where a referrer policy or a
    // privacy setting hides the origin): the token still decides.
    if let (Some(origin), Some(host)) = (
        headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| *o != "null"),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host != host {
            return false;
        }
    }
    match (cookie(headers), submitted) {
        (Some(c), Some(s)) if c.len() == s.len() => {
            c.bytes()
                .zip(s.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(cookie: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "raffles.example".parse().unwrap());
        if let Some(c) = cookie {
            h.insert(
                header::COOKIE,
                format!("a=b; {COOKIE}={c}").parse().unwrap(),
            );
        }
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_post_needs_the_cookie_the_same_token_and_this_origin() {
        let (t, set) = token(&HeaderMap::new());
        assert!(
            set.unwrap()
                .to_str()
                .unwrap()
                .contains("HttpOnly; SameSite=Strict")
        );
        assert!(check(&with(Some(&t), None), Some(&t)));
        assert!(check(
            &with(Some(&t), Some("https://raffles.example")),
            Some(&t)
        ));
        assert!(!check(
            &with(Some(&t), Some("https://evil.example")),
            Some(&t)
        ));
        assert!(!check(&with(Some(&t), None), None));
        assert!(!check(&with(None, None), Some(&t)));
        let (other, _) = token(&HeaderMap::new());
        assert!(!check(&with(Some(&t), None), Some(&other)));
        // An existing token is kept.
        let (again, set) = token(&with(Some(&t), None));
        assert_eq!((again, set), (t, None));
    }
}
