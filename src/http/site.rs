//! Where a request comes from, and which site it asks for: `Origin`, `Sec-Fetch-Site` and `Host`.
//!
//! A browser attaches three headers that a server can trust, because no page's script may set them
//! (they are "forbidden request headers" in the Fetch standard):
//!
//! - **`Origin`** (RFC 6454 §7; Fetch §3.1): the scheme, host and port of the page that made the
//!   request, sent on every `POST` and on every cross-origin request. `null` means an opaque origin (a
//!   sandboxed frame, a `file:` page).
//! - **`Sec-Fetch-Site`** (Fetch Metadata, W3C): `same-origin`, `same-site`, `cross-site`, or `none` (the
//!   user typed the address or followed a bookmark). Newer browsers send it on every request.
//! - **`Host`** (RFC 9110 §7.2): the name the browser *thinks* it is talking to.
//!
//! # Cross-site writes (CSRF)
//!
//! Any web page can make a visitor's browser `POST` to any address with a "simple" request
//! (`Content-Type: text/plain`, no custom header): the browser sends it without asking first (no CORS
//! preflight), and only the *response* is hidden from the page. So `POST /publish/chat` from a page on
//! `https://evil.example` publishes, unless the server looks at where it came from. [`foreign_site`]
//! is that look: a request is foreign when `Sec-Fetch-Site` says `same-site` or `cross-site`, or when
//! its `Origin` is neither the server's own origin nor one the operator allowed. A request with neither
//! header (curl, the crate's own clients, another server) is not a browser's forgery and passes.
//!
//! # DNS rebinding
//!
//! A page on `http://evil.example:8080` can make its own name resolve to `127.0.0.1` a minute later.
//! From then on its scripts talk to the pushlab on the student's laptop *as the same origin*: `Origin`
//! and `Host` both say `evil.example:8080`, so an origin check alone passes. What gives it away is the
//! name in `Host`. [`host_allowed`] accepts only names that cannot be rebound: an IP address literal
//! (a page whose origin is an IP address reaches that address, not ours), `localhost`, and the names
//! the operator lists (`--allow-host`). Everything else is answered 421 (Misdirected Request, RFC 9110
//! §15.5.20) before any route runs.

use crate::http::Request;

/// Whether a browser page on `origin` counts as this server's own: its `http://` or `https://` origin is
/// exactly `host` (the request's `Host`), or it is one of `allowed_origins` (`--allow-origin`).
///
/// The comparison is ASCII case-insensitive, as origins' schemes and hosts are (RFC 6454 §4).
pub fn origin_allowed(origin: &str, host: &str, allowed_origins: &[String]) -> bool {
    let same_origin = ["http://", "https://"].iter().any(|scheme| {
        origin
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
            .then(|| origin.get(scheme.len()..))
            .flatten()
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
    });
    same_origin
        || allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
}

/// Why a request counts as a cross-site one, or `None` when it does not (see the module docs).
///
/// `Sec-Fetch-Site: same-origin` and `none` pass; `same-site` and `cross-site` pass only with an
/// allowed `Origin`. Without `Sec-Fetch-Site` (older browsers), `Origin` decides alone. Without
/// either header the request did not come from a page, and passes.
pub fn foreign_site(request: &Request, allowed_origins: &[String]) -> Option<&'static str> {
    let host = request.header_str("Host").unwrap_or("");
    let origin = request.header_str("Origin");
    let origin_ok = |origin: Option<&str>| {
        origin.is_some_and(|origin| origin_allowed(origin, host, allowed_origins))
    };
    match request.header_str("Sec-Fetch-Site") {
        Some(site)
            if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") =>
        {
            None
        }
        Some(_) if origin_ok(origin) => None,
        Some(_) => Some("a page on another site may not write here (Sec-Fetch-Site)"),
        None if origin.is_none() || origin_ok(origin) => None,
        None => Some("a page on another origin may not write here (Origin)"),
    }
}

/// Whether the name in a `Host` header value (`name`, `name:port`, `[v6]:port`) is one this server
/// answers to: an IP address literal, `localhost`, or one of `allowed_hosts` (compared without port,
/// ASCII case-insensitively). A trailing dot (`localhost.`) names the same host.
pub fn host_allowed(host: &str, allowed_hosts: &[String]) -> bool {
    let name = host_name(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    is_ip_literal(name)
        || name.eq_ignore_ascii_case("localhost")
        || allowed_hosts.iter().any(|allowed| {
            let allowed = host_name(allowed);
            allowed
                .strip_suffix('.')
                .unwrap_or(allowed)
                .eq_ignore_ascii_case(name)
        })
}

/// The host part of `host[:port]`; an IPv6 literal keeps its brackets.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `127.0.0.1`, `[::1]` and the like: a name no DNS answer can move.
fn is_ip_literal(name: &str) -> bool {
    let unbracketed = name
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'));
    match unbracketed {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => name.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpLimits;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut text = String::from("POST /publish/chat HTTP/1.1\r\n");
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match crate::http::parse_request(text.as_bytes(), &HttpLimits::default()) {
            Ok(crate::http::ParseStatus::Complete { request, .. }) => request,
            other => panic!("test request did not parse: {other:?}"),
        }
    }

    #[test]
    fn a_request_without_browser_headers_is_not_a_forgery() {
        assert_eq!(
            foreign_site(&request(&[("Host", "127.0.0.1:8080")]), &[]),
            None
        );
    }

    #[test]
    fn a_foreign_origin_is_refused_and_the_own_origin_passes() {
        let own = request(&[
            ("Host", "127.0.0.1:8080"),
            ("Origin", "http://127.0.0.1:8080"),
        ]);
        assert_eq!(foreign_site(&own, &[]), None);
        let evil = request(&[
            ("Host", "127.0.0.1:8080"),
            ("Origin", "https://evil.example"),
        ]);
        assert!(foreign_site(&evil, &[]).is_some());
        let opaque = request(&[("Host", "127.0.0.1:8080"), ("Origin", "null")]);
        assert!(foreign_site(&opaque, &[]).is_some());
        let allowed = ["https://evil.example".to_string()];
        assert_eq!(
            foreign_site(&evil, &allowed),
            None,
            "--allow-origin lets it in"
        );
    }

    #[test]
    fn sec_fetch_site_decides_where_present() {
        let typed = request(&[("Host", "127.0.0.1:8080"), ("Sec-Fetch-Site", "none")]);
        assert_eq!(foreign_site(&typed, &[]), None);
        // A cross-site request whose Origin was forged to look like ours cannot exist in a browser, but
        // the metadata header alone already refuses it.
        let cross = request(&[
            ("Host", "127.0.0.1:8080"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "http://other.example"),
        ]);
        assert!(foreign_site(&cross, &[]).is_some());
        let same_site = request(&[("Host", "127.0.0.1:8080"), ("Sec-Fetch-Site", "same-site")]);
        assert!(
            foreign_site(&same_site, &[]).is_some(),
            "no Origin to allow"
        );
    }

    #[test]
    fn only_names_that_cannot_be_rebound_are_served() {
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "localhost:8080",
            "LOCALHOST.",
            "10.0.0.7:80",
        ] {
            assert!(host_allowed(host, &[]), "{host}");
        }
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "[::1",
            "127.0.0.1.evil.example",
        ] {
            assert!(!host_allowed(host, &[]), "{host}");
        }
        let allowed = ["push.example.org".to_string()];
        assert!(host_allowed("Push.Example.Org:443", &allowed));
        assert!(!host_allowed("evil.example", &allowed));
    }
}
