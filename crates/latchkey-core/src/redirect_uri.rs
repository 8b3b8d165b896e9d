//! Rules for URIs that the server will send a browser to (redirect URIs and
//! post-logout redirect URIs), and for other client-supplied links.
//! Registered values are kept byte for byte: matching at the authorization
//! endpoint is exact string comparison (RFC 9700 §4.1.3).

use std::net::IpAddr;

use url::{Host, Url};

/// Longest URI we accept anywhere.
pub const MAX_URI_LEN: usize = 2000;

/// Schemes that would run code or read local files in a browser.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob", "about", "filesystem"];

/// Whether the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn common_checks(raw: &str) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > MAX_URI_LEN {
        return Err(format!("is longer than {MAX_URI_LEN} characters"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space or control characters".into());
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URI".to_string())?;
    if raw.contains('#') {
        return Err("must not contain a fragment".into());
    }
    if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
        return Err(format!("must not use the {} scheme", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information".into());
    }
    Ok(url)
}

/// Validates a redirect URI for registration.
///
/// * absolute, no fragment, no user information, no white space;
/// * `https` anywhere; plain `http` only on loopback hosts (RFC 8252 §7.3)
///   unless `allow_insecure` is set;
/// * private-use schemes such as `com.example.app:/cb` for native apps
///   (RFC 8252 §7.1); schemes that run code (`javascript:`, `data:`, …) never.
pub fn validate_redirect_uri(raw: &str, allow_insecure: bool) -> Result<(), String> {
    let url = common_checks(raw)?;
    let web = matches!(url.scheme(), "https" | "http");
    // RFC 8252 §7.1: private-use schemes are reverse domain names (com.example.app).
    if !web && !url.scheme().contains('.') {
        return Err(format!(
            "uses the scheme {}: native apps must use a reverse-domain private-use scheme such as com.example.app",
            url.scheme()
        ));
    }
    if web && url.host().is_none() {
        return Err("must name a host".into());
    }
    if url.scheme() == "http" && !is_loopback(&url) && !allow_insecure {
        return Err("may use plain http only for loopback hosts (localhost, 127.0.0.1, [::1]); use https".into());
    }
    Ok(())
}

/// Validates a plain web link shown to people (logo, policy, terms, home page).
pub fn validate_web_uri(raw: &str, allow_insecure: bool) -> Result<(), String> {
    let url = common_checks(raw)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) || allow_insecure => Ok(()),
        _ => Err("must be an https URI".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_http_and_native_schemes() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=1",
            "http://127.0.0.1:8000/cb",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(validate_redirect_uri(ok, false), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_could_be_abused() {
        for (bad, why) in [
            ("/relative", "absolute"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("http://app.example.com/cb", "loopback"),
            ("javascript:alert(1)", "javascript"),
            ("data:text/html,hi", "data"),
            ("https://user:pw@app.example.com/cb", "user information"),
            ("https://app.example.com/c b", "white space"),
            ("", "empty"),
            ("mailto:a@b.example", "reverse-domain"),
            ("myapp:/cb", "reverse-domain"),
        ] {
            let err = validate_redirect_uri(bad, false).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(validate_redirect_uri(&format!("https://a.example/{}", "x".repeat(2100)), false).is_err());
    }

    #[test]
    fn insecure_http_only_when_allowed() {
        assert!(validate_redirect_uri("http://intranet.example/cb", true).is_ok());
        assert!(validate_web_uri("http://intranet.example/logo.png", false).is_err());
        assert!(validate_web_uri("https://example.com/logo.png", false).is_ok());
        assert!(validate_web_uri("com.example.app:/x", false).is_err());
    }

    #[test]
    fn the_length_limit_on_both_sides() {
        let base = "https://a.example/";
        let at_limit = format!("{base}{}", "x".repeat(MAX_URI_LEN - base.len()));
        assert_eq!(at_limit.len(), MAX_URI_LEN);
        assert_eq!(validate_redirect_uri(&at_limit, false), Ok(()));
        assert_eq!(validate_web_uri(&at_limit, false), Ok(()));
        let over = format!("{at_limit}x");
        assert!(validate_redirect_uri(&over, false).unwrap_err().contains("longer than 2000"));
        assert!(validate_web_uri(&over, false).unwrap_err().contains("longer than 2000"));
    }

    #[test]
    fn loopback_means_the_loopback_addresses_and_localhost_only() {
        let loopback = |s: &str| is_loopback(&Url::parse(s).unwrap());
        for yes in
            ["http://localhost/", "http://LOCALHOST:8080/", "http://127.0.0.1/", "http://127.8.9.10/", "http://[::1]/"]
        {
            assert!(loopback(yes), "{yes}");
        }
        for no in [
            "http://localhost.example/",
            "http://mylocalhost/",
            "http://128.0.0.1/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::2]/",
            "com.example.app:/cb",
        ] {
            assert!(!loopback(no), "{no}");
        }
        // Which is what plain http is allowed on.
        assert!(validate_redirect_uri("http://127.8.9.10/cb", false).is_ok());
        assert!(validate_redirect_uri("http://localhost.example/cb", false).is_err());
    }

    #[test]
    fn schemes_that_run_code_are_refused_even_when_insecure_is_allowed() {
        for scheme in FORBIDDEN_SCHEMES {
            let uri = format!("{scheme}:x.example/cb");
            let err = validate_redirect_uri(&uri, true).unwrap_err();
            assert!(err.contains(&format!("the {scheme} scheme")), "{uri}: {err}");
            assert!(validate_web_uri(&uri, true).is_err(), "{uri}");
        }
    }

    #[test]
    fn white_space_and_controls_anywhere() {
        for bad in [
            " https://a.example/cb",
            "https://a.example/cb ",
            "https://a.example/c\tb",
            "https://a.example/cb\r\nLocation: x",
            "https://a.example/\u{a0}cb",
            "https://a.example/cb\u{7f}",
        ] {
            assert!(validate_redirect_uri(bad, true).unwrap_err().contains("white space"), "{bad:?}");
        }
        // Escaped, they are just bytes of the path.
        assert_eq!(validate_redirect_uri("https://a.example/c%20b", false), Ok(()));
    }

    #[test]
    fn web_links_need_a_host_and_https() {
        // The URL standard reads `https:cb` as `https://cb/`, so a web URI
        // always has a host once it parses; one with an empty host does not.
        for bad in ["https://", "https://:443/cb", "http://"] {
            assert!(validate_redirect_uri(bad, true).unwrap_err().contains("absolute"), "{bad}");
        }
        assert_eq!(validate_web_uri("http://localhost/logo.png", false), Ok(()));
        assert!(validate_web_uri("ftp://files.example/logo.png", true).unwrap_err().contains("https"));
    }
}
