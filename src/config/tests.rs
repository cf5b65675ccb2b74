//! Configuration loading: every message, precedence, and secrecy.

use super::*;

const HOST: (&str, &str) = ("est_host", "https://est.example:8443");

fn load(pairs: &[(&str, &str)]) -> Result<Config, HandlerError> {
    Config::load(&MapSource::new(pairs.iter().copied()))
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
    let settings = MapSource::new([
        HOST,
        ("est_client_cert", "/c.p12"),
        ("cert_passphrase_variable", "P12_PASS"),
    ])
    .with_env("P12_PASS", "pw");
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
    let settings = MapSource::new([
        ("est_host", "https://direct.example"),
        ("est_host_variable", "H"),
        ("est_user", "direct-user"),
        ("est_user_variable", "U"),
        ("est_password", "direct-pw"),
        ("est_password_variable", "P"),
    ])
    .with_env("H", "https://env.example")
    .with_env("U", "env-user")
    .with_env("P", "env-pw");
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
    let settings = MapSource::new([
        ("est_host_variable", "H"),
        ("est_user_variable", "U"),
        ("est_password_variable", "P"),
        ("est_user", ""), // empty counts as unset
    ])
    .with_env("H", "https://env.example/ca")
    .with_env("U", "env-user")
    .with_env("P", "env-pw");
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
    assert!(
        text.contains(
            "\"est_password_variable\" names the environment variable \"NOPE\", which is not set"
        ),
        "{text}"
    );
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
    /// A store that cannot be read.
    struct Sealed;
    impl SettingsSource for Sealed {
        fn get(&self, _: &str) -> Result<Option<String>, String> {
            Err("vault sealed".into())
        }
        fn env(&self, _: &str) -> Option<String> {
            None
        }
    }
    match Config::load(&Sealed) {
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
    let settings = MapSource::new([
        HOST,
        ("est_client_cert", "/c.p12"),
        ("cert_passphrase", "p12-secret"),
    ]);
    let shown = format!("{:?}", Config::load(&settings).unwrap());
    assert!(!shown.contains("p12-secret"), "{shown}");
}

#[test]
fn credentials_in_est_host_are_refused_and_never_shown() {
    // A password may hold anything a URL parser would take as the end of
    // the authority; "8447/Inj" even leaves a valid authority before it.
    let passwords = [
        "Inj/PW",
        "Inj?PW",
        "Inj#PW",
        "Inj@PW",
        "Inj%2FPW",
        "Inj%PW",
        "8447/Inj",
        "a/b?c#d@e%f",
    ];
    for password in passwords {
        for host in [
            format!("https://user:{password}@127.0.0.1:8447"),
            format!("https://user:{password}@est.example/ca"),
            format!("http://user:{password}@est.example"),
            format!("HTTPS://user:{password}@[::1]:8443/"),
            format!("user:{password}@est.example"),
            format!("https://user:{password}@est example"),
        ] {
            for settings in [
                MapSource::new([
                    ("est_host", host.as_str()),
                    ("est_user", "u"),
                    ("est_password", "p"),
                ]),
                MapSource::new([
                    ("est_host_variable", "H"),
                    ("est_user", "u"),
                    ("est_password", "p"),
                ])
                .with_env("H", &host),
            ] {
                let text = match Config::load(&settings) {
                    Err(HandlerError::Config(text)) => text,
                    other => panic!("{host}: expected a configuration error, got {other:?}"),
                };
                assert!(
                    text.contains("must not carry credentials")
                        && text.contains("est_user and est_password"),
                    "{host}: {text}"
                );
                assert!(
                    !text.contains("Inj") && !text.contains(password),
                    "{host}: {text}"
                );
                assert!(text.contains("***@"), "{host}: {text}");
            }
        }
    }
}

#[test]
fn urls_are_shown_without_anything_before_their_last_at() {
    use super::url::redact_userinfo;
    let cases = [
        ("https://u:p/w@h:1/x", "https://***@h:1/x"),
        ("https://u:p?w@h", "https://***@h"),
        ("https://u:p#w@h", "https://***@h"),
        ("https://u:p@w@h", "https://***@h"),
        ("https://a@b/c@d", "https://***@d"),
        ("u:p@h", "***@h"),
        ("https://est.example/ca", "https://est.example/ca"),
        ("", ""),
    ];
    for (url, shown) in cases {
        assert_eq!(redact_userinfo(url), shown, "{url}");
    }
}

#[test]
fn numeric_hosts_must_be_written_as_dotted_quads() {
    let shorthands = [
        "127.1",
        "0x7f.1",
        "0x7f.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.0.0.01",
        "127.0.0.1.",
        "1.2.3.4.5",
        "256.1.1.1",
        "est.0x10",
        "est.example.123",
        "0x",
    ];
    for host in shorthands {
        for url in [
            format!("https://{host}:8447"),
            format!("http://{host}"),
            format!("https://{host}/ca"),
        ] {
            let text = problems(&[
                ("est_host", &url),
                ("est_insecure_http", "True"),
                ("est_user", "u"),
                ("est_password", "p"),
            ]);
            assert!(
                text.contains(&format!("numeric host \"{host}\""))
                    && text.contains("write the address in full, e.g. 127.0.0.1"),
                "{url}: {text}"
            );
        }
    }
    for host in [
        "127.0.0.1",
        "192.0.2.7",
        "0.0.0.0",
        "255.255.255.255",
        "est.example",
        "0xdead.example",
        "123.example",
        "deadbeef",
        "a1.b2",
        "[::1]",
        "[2001:db8::7]",
    ] {
        let config = load(&[
            ("est_host", &format!("https://{host}:8447")),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(config.url.authority, format!("{host}:8447"));
    }
    for v6 in ["[::ffff:127.1]", "[1::2::3]", "[:::]", "[12345::]"] {
        let text = problems(&[
            ("est_host", &format!("https://{v6}")),
            ("est_user", "u"),
            ("est_password", "p"),
        ]);
        assert!(text.contains("invalid IPv6 literal"), "{v6}: {text}");
    }
}

#[test]
fn the_secrets_to_take_out_are_those_configured() {
    let config = load(&[
        HOST,
        ("est_user", "alice"),
        ("est_password", "hunter2-secret"),
        ("api_token", "the-api-token"),
    ])
    .unwrap();
    let text = "hunter2-secret YWxpY2U6aHVudGVyMi1zZWNyZXQ= the-api-token alice";
    assert_eq!(
        config.redactions.apply(text),
        "[redacted] [redacted]= [redacted] alice"
    );
    let settings = MapSource::new([
        HOST,
        ("est_client_cert", "/c.p12"),
        ("cert_passphrase_variable", "P"),
        ("api_token_variable", "T"),
    ])
    .with_env("P", "p12-secret")
    .with_env("T", "env-token");
    let config = Config::load(&settings).unwrap();
    assert_eq!(
        config.redactions.apply("p12-secret env-token"),
        "[redacted] [redacted]"
    );
}

#[test]
fn a_map_source_reads_keys_in_any_case_and_only_its_own_environment() {
    let settings = MapSource::new([
        ("EST_HOST", "https://first.example"),
        ("Est_Host", "https://est.example:8443/ca"),
        ("est_user", "alice"),
        ("est_password_variable", "PW"),
    ])
    .with_env("PW", "hunter2-secret");
    assert_eq!(
        settings.value("est_host"),
        Some("https://est.example:8443/ca")
    );
    assert_eq!(settings.get("EST_USER"), Ok(Some("alice".into())));
    assert_eq!(settings.get("est_label"), Ok(None));
    assert_eq!(settings.env("PW"), Some("hunter2-secret".into()));
    assert_eq!(settings.env("pw"), None, "variable names are exact");
    // PATH is set in every test process; a map source never reads it.
    assert_eq!(settings.env("PATH"), None);
    let config = Config::load(&settings).unwrap();
    assert_eq!(config.url.authority, "est.example:8443");
    assert_eq!(
        config.auth,
        Auth::Basic {
            user: "alice".into(),
            password: Secret::new("hunter2-secret".into())
        }
    );

    let mut edited = settings.clone().with("api_token", "tok");
    edited.unset("EST_USER");
    edited.set_env("PW", "other");
    assert_eq!(edited.value("API_TOKEN"), Some("tok"));
    assert_eq!(edited.value("est_user"), None);
    assert_eq!(edited.env("PW"), Some("other".into()));
}

#[test]
fn a_map_source_shows_keys_but_never_values() {
    let settings = MapSource::new([("est_password", "hunter2-secret")])
        .with_env("API_TOKEN_ENV", "token-secret");
    let shown = format!("{settings:?}");
    assert!(
        shown.contains("est_password") && shown.contains("API_TOKEN_ENV"),
        "{shown}"
    );
    assert!(
        !shown.contains("hunter2") && !shown.contains("token-secret"),
        "{shown}"
    );
}
