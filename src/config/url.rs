//! `est_host`, `est_label` and `est_insecure_http`: where the EST service
//! lives, validated into an [`EstUrl`].

use super::keys;
use super::options::parse_bool;
use super::source::Reader;
use crate::text::SafeText;
use core::fmt;

/// The URL scheme used to reach the EST server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// TLS, the only scheme allowed by default.
    Https,
    /// Plain HTTP, only with `est_insecure_http: True`.
    Http,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }
}

/// The validated location of the EST service: scheme, authority and the
/// path prefix every EST operation is appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstUrl {
    /// `https` (or `http` when explicitly allowed).
    pub scheme: Scheme,
    /// `host[:port]` as configured (IPv6 literals in brackets).
    pub authority: String,
    /// `[/prefix]/.well-known/est[/label]`, without a trailing slash.
    pub base_path: String,
}

impl EstUrl {
    /// The path of EST `operation` (e.g. `cacerts`).
    pub fn path(&self, operation: &str) -> String {
        format!("{}/{operation}", self.base_path)
    }
}

impl fmt::Display for EstUrl {
    /// The URL as it may be shown ([`redact_userinfo`]: a validated
    /// `est_host` carries no credentials, and this keeps it so).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_userinfo(&format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.base_path
        )))
    }
}

/// Reads the EST server's location; problems go to `reader`.
pub(crate) fn load(reader: &mut Reader<'_>) -> Option<EstUrl> {
    let host = reader.value_or_variable(keys::EST_HOST, keys::EST_HOST_VARIABLE);
    let label = reader.value(keys::EST_LABEL);
    let insecure_http = match reader
        .value(keys::EST_INSECURE_HTTP)
        .as_deref()
        .map(parse_bool)
    {
        None => false,
        Some(Some(allowed)) => allowed,
        Some(None) => {
            reader.problem(format!(
                "\"{}\" must be True or False",
                keys::EST_INSECURE_HTTP
            ));
            false
        }
    };
    let Some(host) = host else {
        reader.problem("Configuration incomplete: \"est_host\" parameter is missing");
        return None;
    };
    parse_est_url(&host, label.as_deref(), insecure_http)
        .map_err(|problem| reader.problem(problem))
        .ok()
}

/// Validates `est_host` (and `est_label`) and builds the EST base URL.
fn parse_est_url(host: &str, label: Option<&str>, insecure_http: bool) -> Result<EstUrl, String> {
    let shown = SafeText::new(&redact_userinfo(host), 200);
    let bad = |why: &str| format!("\"est_host\" {why}: \"{shown}\"");
    // First of all: whatever else is wrong, credentials are never echoed
    // (the masked text above is all any message shows).
    if userinfo_span(host).is_some() {
        return Err(bad(
            "must not carry credentials (user:password@); put them in est_user and est_password",
        ));
    }
    if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    let (scheme, rest) = match host.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("http") => {
            if !insecure_http {
                return Err(bad(
                    "uses plain http://; use https://, or set \"est_insecure_http: True\" if something in between provides TLS",
                ));
            }
            (Scheme::Http, rest)
        }
        _ => return Err(bad("must be an absolute https:// URL")),
    };
    if host.contains('?') || host.contains('#') {
        return Err(bad("must not contain a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    validate_authority(authority).map_err(|why| bad(&why))?;
    let prefix = path.trim_end_matches('/');
    if prefix
        .split('/')
        .skip(1)
        .any(|seg| seg == "." || seg == ".." || seg.is_empty())
    {
        return Err(bad("has an invalid path"));
    }
    let mut base_path = format!("{prefix}/.well-known/est");
    if let Some(label) = label {
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            || label == "."
            || label == ".."
        {
            return Err(format!(
                "\"est_label\" must be one path segment of letters, digits, '-', '.', '_' or '~': \"{}\"",
                SafeText::new(label, 100)
            ));
        }
        base_path.push('/');
        base_path.push_str(label);
    }
    Ok(EstUrl {
        scheme,
        authority: authority.to_owned(),
        base_path,
    })
}

/// Where a URL may hold credentials: from just after its `://` (or its
/// start, without one) up to its last `@`, when it has an `@` there at
/// all. Deliberately blunt: a password may hold `/`, `?`, `#`, `@` or `%`,
/// so no parse of the authority decides where it ends.
fn userinfo_span(url: &str) -> Option<core::ops::Range<usize>> {
    let start = url.find("://").map_or(0, |i| i + 3);
    url[start..].rfind('@').map(|at| start..start + at)
}

/// `url` as it may be shown anywhere (errors, logs, answers): when an `@`
/// follows its `://` (or, without a scheme, appears at all), everything
/// between the two and the last `@` becomes `***`; other text comes back
/// as it is. Every display of a configured URL, or of anything taken from
/// one, goes through here.
pub fn redact_userinfo(url: &str) -> String {
    match userinfo_span(url) {
        Some(span) => format!("{}***{}", &url[..span.start], &url[span.end..]),
        None => url.to_owned(),
    }
}

fn validate_authority(authority: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("has an unterminated IPv6 literal")?;
        if v6.parse::<core::net::Ipv6Addr>().is_err() {
            return Err("has an invalid IPv6 literal".into());
        }
        match after {
            "" => ("v6", None),
            p => (
                "v6",
                Some(
                    p.strip_prefix(':')
                        .ok_or("has junk after the IPv6 literal")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("has no host name".into());
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err("has an invalid host name".into());
    }
    if looks_numeric(host) && !is_dotted_quad(host) {
        return Err(format!(
            "has the numeric host \"{host}\", which is not an IPv4 address in dotted-quad form (four decimal numbers 0-255 without leading zeros); write the address in full, e.g. 127.0.0.1"
        ));
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err("has an invalid port".into()),
        }
    }
    Ok(())
}

/// Whether a URL parser could take `host` for an IPv4 address: its last
/// label (a final dot aside) is a decimal or `0x` hexadecimal number, as
/// in `127.1`, `0x7f.1`, `2130706433` or `0177.0.0.1` (the WHATWG URL
/// standard reads all of these as IPv4; `getaddrinfo`, rustls and the
/// host's allow-list each read them their own way).
fn looks_numeric(host: &str) -> bool {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let last = trimmed.rsplit('.').next().unwrap_or_default();
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Whether `host` is an IPv4 address written exactly as it prints: four
/// decimal numbers 0-255, no leading zeros, nothing else.
fn is_dotted_quad(host: &str) -> bool {
    host.parse::<core::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.to_string() == host)
}
