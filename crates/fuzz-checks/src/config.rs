//! Configuration loading ([`Config::load`], [`ApiAccess::load`]) from
//! arbitrary key/value sets and environments.

use crate::fixtures::{CSR, Settings};
use crate::support::{Input, assert_clean, assert_hidden, find};
use est_ca_handler::config::{ApiAccess, Auth, Config, Scheme, keys, parse_bool};
use est_ca_handler::error::HandlerError;
use est_ca_handler::est::EstRequest;
use est_ca_handler::x509::csr::Csr;

/// The longest configuration error accepted, in characters.
const MAX_ERROR: usize = 4096;

/// The `*_variable` keys of secret values.
const SECRET_VARIABLES: &[&str] = &[
    keys::EST_PASSWORD_VARIABLE,
    keys::CERT_PASSPHRASE_VARIABLE,
    keys::API_TOKEN_VARIABLE,
];
/// The `*_variable` keys of values that are not secret.
const PLAIN_VARIABLES: &[&str] = &[keys::EST_HOST_VARIABLE, keys::EST_USER_VARIABLE];

/// Target `config`. Layout: two bytes (bit 0 of the first set: reading
/// key `keys::ALL[second % len]` fails, with the first part as the
/// store's words), then pairs of parts: a key spec and a value. A spec's
/// first byte below `0xC0` picks `keys::ALL[byte % len]`; `0xC0..0xE0`
/// takes the rest of the spec as the key's name (matched without regard
/// to case, as [`MapSource`](est_ca_handler::config::MapSource) and the
/// host read keys); `0xE0` and above sets the environment variable named
/// by the rest of the spec.
///
/// Secret values (`est_password`, `cert_passphrase`, `api_token`, and
/// variables their `*_variable` keys name) that are not blank are replaced
/// by markers, which must never show (unless the input spells a marker
/// out itself).
///
/// Checks: loading twice gives the same result; an error is a
/// `config` error whose text is free of control characters and at most
/// 4096 characters; no secret shows in an error, in a configuration's
/// `Debug`, its warnings or its requests' `Debug`; a loaded configuration
/// keeps its invariants (`http` only with `est_insecure_http`, the
/// timeout within 1..=3600, a Basic user without `:`); `ApiAccess::load`
/// is repeatable, its errors clean and short, and a token is the
/// configured one.
pub fn config(data: &[u8]) {
    let mut input = Input::<2>::new(data);
    let mut settings = Settings::default();
    if input.byte(0) & 1 == 1 {
        let key = keys::ALL[usize::from(input.byte(1)) % keys::ALL.len()];
        settings.failing = Some((key.to_owned(), input.text()));
    }
    let mut env = Vec::new();
    while !input.is_done() {
        let (spec, value) = (input.part(), input.text());
        let selector = spec.first().copied().unwrap_or(0);
        let name = String::from_utf8_lossy(spec.get(1..).unwrap_or_default()).into_owned();
        match selector {
            0..0xC0 => set(
                &mut settings,
                keys::ALL[usize::from(selector) % keys::ALL.len()],
                value,
            ),
            0xC0..0xE0 => set(&mut settings, &name, value),
            _ => env.push((name, value)),
        }
    }
    let mut secrets = secret_env(&mut settings, env);
    // A marker the input spells out itself is the input's text, not a secret.
    secrets.retain(|marker| find(data, marker.as_bytes()).is_none());

    let loaded = Config::load(&settings);
    assert_eq!(loaded, Config::load(&settings), "loading is not repeatable");
    match &loaded {
        Err(HandlerError::Config(text)) => {
            assert_clean("the configuration error", text, MAX_ERROR);
            for secret in &secrets {
                assert_hidden("the configuration error", text, secret);
                assert_hidden("the error's Debug", &format!("{loaded:?}"), secret);
            }
        }
        Err(other) => panic!("a configuration error that is not config: {other:?}"),
        Ok(config) => check_config(config, &settings, &secrets),
    }

    let access = ApiAccess::load(&settings);
    assert_eq!(access, ApiAccess::load(&settings), "not repeatable");
    match &access {
        Err(text) => {
            assert_clean("the API configuration error", text, 1024);
            for secret in &secrets {
                assert_hidden("the API configuration error", text, secret);
            }
        }
        Ok(ApiAccess::Token(token)) => {
            assert!(!token.expose().trim().is_empty(), "a blank token");
            for secret in &secrets {
                assert_hidden("ApiAccess's Debug", &format!("{access:?}"), secret);
            }
        }
        Ok(_) => {}
    }
}

/// Sets `key`, replacing a secret that is not blank by its marker (keys
/// are read without regard to case, so a secret's key in any spelling).
fn set(settings: &mut Settings, key: &str, value: String) {
    let secret = keys::SECRETS.iter().find(|s| s.eq_ignore_ascii_case(key));
    if let Some(secret) = secret
        && !value.trim().is_empty()
    {
        settings.set(key, &format!("\u{27ea}secret:{secret}\u{27eb}"));
    } else {
        settings.set(key, &value);
    }
}

/// Puts `env` into `settings`, replacing the values of variables named by
/// a secret's `*_variable` key by markers; returns the markers to check
/// (those of variables that a non-secret key does not name too).
fn secret_env(settings: &mut Settings, env: Vec<(String, String)>) -> Vec<String> {
    let named_by = |variables: &[&str], name: &str| {
        variables
            .iter()
            .any(|key| settings.value(key).is_some_and(|v| v.trim() == name))
    };
    let mut markers = Vec::new();
    let mut shared = Vec::new();
    let mut resolved = Vec::new();
    for (i, (name, value)) in env.into_iter().enumerate() {
        if named_by(SECRET_VARIABLES, &name) && !value.trim().is_empty() {
            let marker = format!("\u{27ea}secret-env-{i}\u{27eb}");
            if named_by(PLAIN_VARIABLES, &name) {
                shared.push(marker.clone());
            }
            markers.push(marker.clone());
            resolved.push((name, marker));
        } else {
            resolved.push((name, value));
        }
    }
    for (name, value) in resolved {
        settings.source.set_env(&name, value);
    }
    let mut secrets: Vec<String> = keys::SECRETS
        .iter()
        .map(|key| format!("\u{27ea}secret:{key}\u{27eb}"))
        .collect();
    secrets.extend(markers.into_iter().filter(|m| !shared.contains(m)));
    secrets
}

fn check_config(config: &Config, settings: &Settings, secrets: &[String]) {
    let shown = format!("{config:?}");
    let warnings = config.warnings();
    let csr = Csr::from_der(CSR.to_vec()).expect("the fixture CSR");
    let requests = [
        format!("{:?}", EstRequest::CaCerts.to_http(config)),
        format!("{:?}", EstRequest::SimpleEnroll(&csr).to_http(config)),
    ];
    for secret in secrets {
        assert_hidden("the configuration's Debug", &shown, secret);
        for warning in &warnings {
            assert_hidden("a warning", warning, secret);
        }
        for request in &requests {
            assert_hidden("an EST request's Debug", request, secret);
        }
    }
    for warning in &warnings {
        assert!(
            !warning.chars().any(char::is_control),
            "a warning holds a control character: {warning:?}"
        );
    }
    assert!(!config.url.to_string().chars().any(char::is_control));
    if config.url.scheme == Scheme::Http {
        let allowed = settings.value(keys::EST_INSECURE_HTTP).and_then(parse_bool);
        assert_eq!(allowed, Some(true), "http:// without est_insecure_http");
    }
    assert!(
        (1..=est_ca_handler::config::MAX_REQUEST_TIMEOUT_SECS)
            .contains(&config.request_timeout_secs)
    );
    if let Auth::Basic { user, .. } = &config.auth {
        assert!(!user.contains(':'), "a Basic user with ':'");
    }
}
