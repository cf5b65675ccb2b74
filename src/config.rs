//! The handler's settings, read under acme2certifier's `[CAhandler]` key names.
//!
//! Values come from a [`Settings`] source (the host's `wasi:config/store` in
//! the component; a map in tests). A `*_variable` key names an environment
//! variable that holds the value; the directly configured key wins over it.
//! An empty value counts as unset, so hosts can declare optional keys with an
//! empty default. [`Config::load`] validates everything at once and reports
//! every problem it finds in one [`HandlerError::Config`].

use crate::error::HandlerError;
use core::fmt;

/// Seconds to wait for the CA when `request_timeout` is not set.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u32 = 20;
/// The largest `request_timeout` accepted, in seconds.
pub const MAX_REQUEST_TIMEOUT_SECS: u32 = 3600;

/// Configuration keys, exactly as they appear under `[CAhandler]`.
pub mod keys {
    /// Base URL of the EST server (`https://host[:port][/prefix]`).
    pub const EST_HOST: &str = "est_host";
    /// Environment variable holding `est_host`.
    pub const EST_HOST_VARIABLE: &str = "est_host_variable";
    /// Optional RFC 7030 §3.2.2 label (`/.well-known/est/<label>/...`).
    pub const EST_LABEL: &str = "est_label";
    /// HTTP Basic user name.
    pub const EST_USER: &str = "est_user";
    /// Environment variable holding `est_user`.
    pub const EST_USER_VARIABLE: &str = "est_user_variable";
    /// HTTP Basic password.
    pub const EST_PASSWORD: &str = "est_password";
    /// Environment variable holding `est_password`.
    pub const EST_PASSWORD_VARIABLE: &str = "est_password_variable";
    /// TLS client certificate (PEM file, or PKCS#12 file with `cert_passphrase`).
    pub const EST_CLIENT_CERT: &str = "est_client_cert";
    /// TLS client private key (PEM file).
    pub const EST_CLIENT_KEY: &str = "est_client_key";
    /// Passphrase of a PKCS#12 `est_client_cert`.
    pub const CERT_PASSPHRASE: &str = "cert_passphrase";
    /// Environment variable holding `cert_passphrase`.
    pub const CERT_PASSPHRASE_VARIABLE: &str = "cert_passphrase_variable";
    /// Trust anchors for the EST server's TLS certificate, or `False`.
    pub const CA_BUNDLE: &str = "ca_bundle";
    /// Seconds to wait for the EST server.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// Explicit opt-in to a plain `http://` `est_host`.
    pub const EST_INSECURE_HTTP: &str = "est_insecure_http";
    /// What to do when the issued certificate lacks names the CSR asked
    /// for: `error`, `warn` (the default) or `off`.
    pub const EST_NAMES_CHECK: &str = "est_names_check";
}

/// What to do when the issued certificate does not carry every name
/// (subject CN, DNS and IP subject alternative names) the CSR asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamesCheck {
    /// Refuse the certificate with a `certificate-mismatch` error.
    Error,
    /// Return the certificate with a warning naming the missing names.
    #[default]
    Warn,
    /// Do not compare names.
    Off,
}

impl NamesCheck {
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Where the handler's settings come from.
pub trait Settings {
    /// The value configured for `key`, if any. An `Err` is the store's own
    /// failure, described in words.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// The value of the environment variable `name`, if set.
    fn env(&self, name: &str) -> Option<String>;
}

/// A secret string: it never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The secret value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.base_path
        )
    }
}

/// How the handler proves its identity to the EST server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic, sent by the handler itself on every request.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A TLS client certificate, presented by the host's HTTP client.
    ClientCertificate {
        /// Path of the certificate (PEM, or PKCS#12 when `key` says so).
        cert_file: String,
        /// Where the private key comes from.
        key: ClientKey,
    },
}

/// The private key that goes with `est_client_cert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// A PEM private key file (`est_client_key`).
    PemFile(String),
    /// The key is inside the PKCS#12 `est_client_cert`, opened with this passphrase.
    Pkcs12 {
        /// The PKCS#12 passphrase.
        passphrase: Secret,
    },
}

/// Which trust anchors verify the EST server's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaBundle {
    /// The host's default roots (`ca_bundle` unset or `True`).
    System,
    /// A PEM file of trust anchors.
    File(String),
    /// No verification at all (`ca_bundle: False`).
    Disabled,
}

/// A complete, validated handler configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the EST service lives.
    pub url: EstUrl,
    /// How to authenticate.
    pub auth: Auth,
    /// How the host verifies the server's TLS certificate.
    pub ca_bundle: CaBundle,
    /// Seconds to wait for the server.
    pub request_timeout_secs: u32,
    /// Whether the issued certificate's names are compared with the CSR's.
    pub names_check: NamesCheck,
}

impl Config {
    /// Reads and validates every setting. All problems found are reported
    /// together, separated by `"; "`.
    pub fn load(settings: &dyn Settings) -> Result<Self, HandlerError> {
        let mut problems = Vec::new();
        let mut read = |key: &str| match settings.get(key) {
            Ok(value) => value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
            Err(err) => {
                problems.push(format!(
                    "could not read \"{key}\" from the configuration store: {err}"
                ));
                None
            }
        };
        let host = read(keys::EST_HOST);
        let host_var = read(keys::EST_HOST_VARIABLE);
        let label = read(keys::EST_LABEL);
        let user = read(keys::EST_USER);
        let user_var = read(keys::EST_USER_VARIABLE);
        let password = read(keys::EST_PASSWORD);
        let password_var = read(keys::EST_PASSWORD_VARIABLE);
        let client_cert = read(keys::EST_CLIENT_CERT);
        let client_key = read(keys::EST_CLIENT_KEY);
        let passphrase = read(keys::CERT_PASSPHRASE);
        let passphrase_var = read(keys::CERT_PASSPHRASE_VARIABLE);
        let ca_bundle = read(keys::CA_BUNDLE);
        let timeout = read(keys::REQUEST_TIMEOUT);
        let insecure = read(keys::EST_INSECURE_HTTP);
        let names_check = read(keys::EST_NAMES_CHECK);

        let mut resolve = |direct: Option<String>, var_key: &str, var: Option<String>| {
            direct.or_else(|| {
                let name = var?;
                let value = settings.env(&name).filter(|v| !v.trim().is_empty());
                if value.is_none() {
                    problems.push(format!(
                        "\"{var_key}\" names the environment variable \"{name}\", which is not set"
                    ));
                }
                value
            })
        };
        let host = resolve(host, keys::EST_HOST_VARIABLE, host_var);
        let user = resolve(user, keys::EST_USER_VARIABLE, user_var);
        let password = resolve(password, keys::EST_PASSWORD_VARIABLE, password_var);
        let passphrase = resolve(passphrase, keys::CERT_PASSPHRASE_VARIABLE, passphrase_var);

        let insecure_http = match insecure.as_deref().map(parse_bool) {
            None => false,
            Some(Some(b)) => b,
            Some(None) => {
                problems.push(format!(
                    "\"{}\" must be True or False",
                    keys::EST_INSECURE_HTTP
                ));
                false
            }
        };

        let url = match host {
            None => {
                problems.push("Configuration incomplete: \"est_host\" parameter is missing".into());
                None
            }
            Some(host) => match parse_est_url(&host, label.as_deref(), insecure_http) {
                Ok(url) => Some(url),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            },
        };

        let client_configured = client_cert.is_some();
        let user_configured = user.is_some() || password.is_some();
        let client = match (client_cert, client_key, passphrase) {
            (None, _, _) => None,
            (Some(cert_file), Some(key), _) => Some((cert_file, ClientKey::PemFile(key))),
            (Some(cert_file), None, Some(passphrase)) => Some((
                cert_file,
                ClientKey::Pkcs12 {
                    passphrase: Secret::new(passphrase),
                },
            )),
            (Some(_), None, None) => {
                problems.push(
                    "Clientauth configuration incomplete: either \"est_client_key\" or \"cert_passphrase\" parameter is missing"
                        .into(),
                );
                None
            }
        };

        let basic = match (user, password) {
            (Some(user), Some(_)) if user.contains(':') => {
                problems
                    .push("\"est_user\" must not contain ':' (HTTP Basic cannot carry it)".into());
                None
            }
            (Some(user), Some(password)) => Some((user, Secret::new(password))),
            (None, None) => None,
            _ => {
                problems.push(
                    "Configuration incomplete: either \"est_user\" or \"est_password\" parameter is missing"
                        .into(),
                );
                None
            }
        };

        let ca_bundle = match ca_bundle {
            None => CaBundle::System,
            Some(value) => match parse_bool(&value) {
                Some(true) => CaBundle::System,
                Some(false) => CaBundle::Disabled,
                None => CaBundle::File(value),
            },
        };

        if !client_configured && !user_configured {
            problems.push(
                "Configuration incomplete: either user or client authentication must be configured"
                    .into(),
            );
        } else if client_configured && user_configured {
            problems.push(
                "Configuration error: user and client authentication cannot be configured together"
                    .into(),
            );
        }
        if client_configured && ca_bundle == CaBundle::Disabled {
            problems.push("Configuration error: client authentication requires a ca_bundle".into());
        }

        let request_timeout_secs = match timeout {
            None => DEFAULT_REQUEST_TIMEOUT_SECS,
            Some(value) => match value.parse::<u32>() {
                Ok(secs) if (1..=MAX_REQUEST_TIMEOUT_SECS).contains(&secs) => secs,
                _ => {
                    problems.push(format!(
                        "\"request_timeout\" must be a whole number of seconds from 1 to {MAX_REQUEST_TIMEOUT_SECS}, not \"{}\"",
                        sanitize(&value, 40)
                    ));
                    DEFAULT_REQUEST_TIMEOUT_SECS
                }
            },
        };

        let names_check = match names_check {
            None => NamesCheck::default(),
            Some(value) => NamesCheck::parse(&value).unwrap_or_else(|| {
                problems.push(format!(
                    "\"{}\" must be error, warn or off, not \"{}\"",
                    keys::EST_NAMES_CHECK,
                    sanitize(&value, 40)
                ));
                NamesCheck::default()
            }),
        };

        if !problems.is_empty() {
            return Err(HandlerError::Config(problems.join("; ")));
        }
        // No problem was recorded, so the URL and exactly one auth mode exist.
        let auth = match (basic, client) {
            (Some((user, password)), None) => Auth::Basic { user, password },
            (None, Some((cert_file, key))) => Auth::ClientCertificate { cert_file, key },
            _ => {
                return Err(HandlerError::Config(
                    "internal: inconsistent authentication state".into(),
                ));
            }
        };
        let Some(url) = url else {
            return Err(HandlerError::Config(
                "internal: inconsistent est_host state".into(),
            ));
        };
        Ok(Self {
            url,
            auth,
            ca_bundle,
            request_timeout_secs,
            names_check,
        })
    }

    /// Settings that work but that an operator should know about.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.url.scheme == Scheme::Http {
            warnings.push(format!(
                "est_host {} uses plain http:// (est_insecure_http is set): requests, credentials and certificates are not protected by TLS unless something in between adds it",
                self.url
            ));
        }
        if self.url.scheme == Scheme::Https && self.ca_bundle == CaBundle::Disabled {
            warnings.push(
                "ca_bundle is False: the EST server's TLS certificate is not verified".into(),
            );
        }
        warnings
    }
}

/// Parses a boolean the way Python's configparser does.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Validates `est_host` (and `est_label`) and builds the EST base URL.
fn parse_est_url(host: &str, label: Option<&str>, insecure_http: bool) -> Result<EstUrl, String> {
    let shown = sanitize(&redact_userinfo(host), 200);
    let bad = |why: &str| format!("\"est_host\" {why}: \"{shown}\"");
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
    if authority.contains('@') {
        return Err(bad(
            "must not carry credentials; use est_user and est_password",
        ));
    }
    validate_authority(authority).map_err(bad)?;
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
                sanitize(label, 100)
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

/// `host` with any `user:password@` part replaced by `***@`.
fn redact_userinfo(host: &str) -> String {
    let start = host.find("://").map_or(0, |i| i + 3);
    let end = host[start..]
        .find(['/', '?', '#'])
        .map_or(host.len(), |i| start + i);
    match host[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &host[..start], &host[start + at..]),
        None => host.to_owned(),
    }
}

fn validate_authority(authority: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("has an unterminated IPv6 literal")?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("has an invalid IPv6 literal");
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
        return Err("has no host name");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err("has an invalid host name");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err("has an invalid port"),
        }
    }
    Ok(())
}

/// Makes untrusted text safe to show: control characters become spaces and
/// the text is cut to at most `max` characters (marked with `…`).
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::MapSettings;

    const HOST: (&str, &str) = ("est_host", "https://est.example:8443");

    fn load(pairs: &[(&str, &str)]) -> Result<Config, HandlerError> {
        Config::load(&MapSettings::with(pairs))
    }

    fn problems(pairs: &[(&str, &str)]) -> String {
        match load(pairs) {
            Err(HandlerError::Config(text)) => text,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn basic_auth_config_is_complete() {
        let config = load(&[HOST, ("est_user", "alice"), ("est_password", "s3cret")]).unwrap();
        assert_eq!(config.url.scheme, Scheme::Https);
        assert_eq!(config.url.authority, "est.example:8443");
        assert_eq!(
            config.url.path("simpleenroll"),
            "/.well-known/est/simpleenroll"
        );
        assert_eq!(
            config.url.to_string(),
            "https://est.example:8443/.well-known/est"
        );
        assert_eq!(
            config.auth,
            Auth::Basic {
                user: "alice".into(),
                password: Secret::new("s3cret".into())
            }
        );
        assert_eq!(config.ca_bundle, CaBundle::System);
        assert_eq!(config.request_timeout_secs, DEFAULT_REQUEST_TIMEOUT_SECS);
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn client_auth_with_pem_key_or_pkcs12() {
        let pem = load(&[
            HOST,
            ("est_client_cert", "/c.pem"),
            ("est_client_key", "/k.pem"),
            ("ca_bundle", "/ca.pem"),
        ])
        .unwrap();
        assert_eq!(
            pem.auth,
            Auth::ClientCertificate {
                cert_file: "/c.pem".into(),
                key: ClientKey::PemFile("/k.pem".into())
            }
        );
        assert_eq!(pem.ca_bundle, CaBundle::File("/ca.pem".into()));
        let settings = MapSettings::with(&[
            HOST,
            ("est_client_cert", "/c.p12"),
            ("cert_passphrase_variable", "P12_PASS"),
        ])
        .env("P12_PASS", "pw");
        let p12 = Config::load(&settings).unwrap();
        assert_eq!(
            p12.auth,
            Auth::ClientCertificate {
                cert_file: "/c.p12".into(),
                key: ClientKey::Pkcs12 {
                    passphrase: Secret::new("pw".into())
                }
            }
        );
    }

    #[test]
    fn direct_values_win_over_variables() {
        let settings = MapSettings::with(&[
            ("est_host", "https://direct.example"),
            ("est_host_variable", "H"),
            ("est_user", "direct-user"),
            ("est_user_variable", "U"),
            ("est_password", "direct-pw"),
            ("est_password_variable", "P"),
        ])
        .env("H", "https://env.example")
        .env("U", "env-user")
        .env("P", "env-pw");
        let config = Config::load(&settings).unwrap();
        assert_eq!(config.url.authority, "direct.example");
        assert_eq!(
            config.auth,
            Auth::Basic {
                user: "direct-user".into(),
                password: Secret::new("direct-pw".into())
            }
        );
    }

    #[test]
    fn variables_fill_in_missing_values() {
        let settings = MapSettings::with(&[
            ("est_host_variable", "H"),
            ("est_user_variable", "U"),
            ("est_password_variable", "P"),
            ("est_user", ""), // empty counts as unset
        ])
        .env("H", "https://env.example/ca")
        .env("U", "env-user")
        .env("P", "env-pw");
        let config = Config::load(&settings).unwrap();
        assert_eq!(config.url.authority, "env.example");
        assert_eq!(config.url.base_path, "/ca/.well-known/est");
        assert_eq!(
            config.auth,
            Auth::Basic {
                user: "env-user".into(),
                password: Secret::new("env-pw".into())
            }
        );
    }

    #[test]
    fn a_variable_that_is_not_set_is_reported() {
        let text = problems(&[HOST, ("est_user", "u"), ("est_password_variable", "NOPE")]);
        assert!(text.contains("\"est_password_variable\" names the environment variable \"NOPE\", which is not set"), "{text}");
    }

    #[test]
    fn every_validation_message() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("est_user", "u"), ("est_password", "p")],
                "Configuration incomplete: \"est_host\" parameter is missing",
            ),
            (
                &[HOST],
                "Configuration incomplete: either user or client authentication must be configured",
            ),
            (
                &[
                    HOST,
                    ("est_user", "u"),
                    ("est_password", "p"),
                    ("est_client_cert", "c"),
                    ("est_client_key", "k"),
                ],
                "Configuration error: user and client authentication cannot be configured together",
            ),
            (
                &[
                    HOST,
                    ("est_client_cert", "c"),
                    ("est_client_key", "k"),
                    ("ca_bundle", "False"),
                ],
                "Configuration error: client authentication requires a ca_bundle",
            ),
            (
                &[HOST, ("est_user", "u")],
                "Configuration incomplete: either \"est_user\" or \"est_password\" parameter is missing",
            ),
            (
                &[HOST, ("est_password", "p")],
                "Configuration incomplete: either \"est_user\" or \"est_password\" parameter is missing",
            ),
            (
                &[HOST, ("est_client_cert", "c")],
                "Clientauth configuration incomplete: either \"est_client_key\" or \"cert_passphrase\" parameter is missing",
            ),
            (
                &[
                    HOST,
                    ("est_user", "u"),
                    ("est_password", "p"),
                    ("request_timeout", "soon"),
                ],
                "\"request_timeout\" must be a whole number",
            ),
            (
                &[
                    HOST,
                    ("est_user", "u"),
                    ("est_password", "p"),
                    ("request_timeout", "0"),
                ],
                "\"request_timeout\" must be a whole number",
            ),
            (
                &[
                    HOST,
                    ("est_user", "u"),
                    ("est_password", "p"),
                    ("est_insecure_http", "maybe"),
                ],
                "\"est_insecure_http\" must be True or False",
            ),
            (
                &[HOST, ("est_user", "a:b"), ("est_password", "p")],
                "\"est_user\" must not contain ':'",
            ),
        ];
        for (pairs, expected) in cases {
            let text = problems(pairs);
            assert!(text.contains(expected), "expected {expected:?} in {text:?}");
        }
    }

    #[test]
    fn all_problems_are_reported_together() {
        let text = problems(&[("est_user", "u"), ("request_timeout", "x")]);
        assert!(text.contains("\"est_host\" parameter is missing"), "{text}");
        assert!(
            text.contains("\"est_password\" parameter is missing"),
            "{text}"
        );
        assert!(text.contains("request_timeout"), "{text}");
        assert_eq!(text.matches("; ").count(), 2, "{text}");
    }

    #[test]
    fn est_host_must_be_an_absolute_https_url() {
        let bad = [
            ("est.example", "must be an absolute https:// URL"),
            ("ftp://est.example", "must be an absolute https:// URL"),
            ("http://est.example", "uses plain http://"),
            (
                "https://est.example/?x=1",
                "must not contain a query or fragment",
            ),
            (
                "https://est.example#frag",
                "must not contain a query or fragment",
            ),
            ("https://user:pw@est.example", "must not carry credentials"),
            ("https://est.example:99999", "has an invalid port"),
            ("https://est.example:", "has an invalid port"),
            ("https://", "has no host name"),
            ("https://est example", "must not contain spaces"),
            ("https://[::1", "unterminated IPv6"),
            ("https://est.example/a/../b", "has an invalid path"),
        ];
        for (host, expected) in bad {
            let text = problems(&[("est_host", host), ("est_user", "u"), ("est_password", "p")]);
            assert!(
                text.contains(expected),
                "{host}: expected {expected:?} in {text:?}"
            );
            assert!(!text.contains("pw@"), "credentials leaked: {text}");
        }
        let v6 = load(&[
            ("est_host", "HTTPS://[::1]:8443/"),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap();
        assert_eq!(v6.url.authority, "[::1]:8443");
        assert_eq!(v6.url.base_path, "/.well-known/est");
    }

    #[test]
    fn plain_http_needs_the_opt_in_and_is_warned_about() {
        let config = load(&[
            ("est_host", "http://sidecar:8080"),
            ("est_insecure_http", "True"),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap();
        assert_eq!(config.url.scheme, Scheme::Http);
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("plain http://"), "{warnings:?}");
    }

    #[test]
    fn label_goes_into_the_path() {
        let config = load(&[
            HOST,
            ("est_label", "arbitraryLabel1"),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap();
        assert_eq!(
            config.url.path("cacerts"),
            "/.well-known/est/arbitraryLabel1/cacerts"
        );
        let text = problems(&[
            HOST,
            ("est_label", "a/b"),
            ("est_user", "u"),
            ("est_password", "p"),
        ]);
        assert!(
            text.contains("\"est_label\" must be one path segment"),
            "{text}"
        );
    }

    #[test]
    fn ca_bundle_and_timeout_values() {
        let base = [HOST, ("est_user", "u"), ("est_password", "p")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            load(&pairs).unwrap()
        };
        assert_eq!(with(("ca_bundle", "True")).ca_bundle, CaBundle::System);
        assert_eq!(with(("ca_bundle", "no")).ca_bundle, CaBundle::Disabled);
        assert_eq!(
            with(("ca_bundle", "/etc/ca.pem")).ca_bundle,
            CaBundle::File("/etc/ca.pem".into())
        );
        let disabled = with(("ca_bundle", "False"));
        assert!(
            disabled
                .warnings()
                .iter()
                .any(|w| w.contains("not verified"))
        );
        assert_eq!(with(("request_timeout", "5")).request_timeout_secs, 5);
    }

    #[test]
    fn names_check_values() {
        let base = [HOST, ("est_user", "u"), ("est_password", "p")];
        assert_eq!(load(&base).unwrap().names_check, NamesCheck::Warn);
        for (value, expected) in [
            ("error", NamesCheck::Error),
            ("Warn", NamesCheck::Warn),
            (" off ", NamesCheck::Off),
        ] {
            let mut pairs = base.to_vec();
            pairs.push(("est_names_check", value));
            assert_eq!(load(&pairs).unwrap().names_check, expected, "{value}");
        }
        let mut pairs = base.to_vec();
        pairs.push(("est_names_check", "strict"));
        let text = load(&pairs).unwrap_err().to_string();
        assert!(
            text.contains("\"est_names_check\" must be error, warn or off, not \"strict\""),
            "{text}"
        );
    }

    #[test]
    fn store_failures_are_config_errors() {
        let settings = MapSettings {
            fail: Some("vault sealed".into()),
            ..MapSettings::default()
        };
        match Config::load(&settings) {
            Err(HandlerError::Config(text)) => assert!(text.contains("vault sealed"), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config = load(&[
            HOST,
            ("est_user", "alice"),
            ("est_password", "hunter2-secret"),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("alice"));
        let settings = MapSettings::with(&[
            HOST,
            ("est_client_cert", "/c.p12"),
            ("cert_passphrase", "p12-secret"),
        ]);
        let shown = format!("{:?}", Config::load(&settings).unwrap());
        assert!(!shown.contains("p12-secret"), "{shown}");
    }
}
