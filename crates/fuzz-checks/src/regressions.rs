//! What the targets' property checks found, kept as unit tests (their
//! inputs are also in the corpora, as `fuzz/corpus/<target>/regression-*`).

use crate::fixtures::Settings;
use est_ca_handler::config::{ApiAccess, Config, keys};
use est_ca_handler::error::{HandlerError, TransportCause};
use est_ca_handler::est::{Endpoint, interpret};
use est_ca_handler::transport::TransportError;

fn assert_clean(text: &str, max: usize) {
    crate::support::assert_clean("the error", text, max);
}

/// The environment variable a `*_variable` key names is the operator's
/// text: it reached the configuration error raw (an escape sequence, a
/// line break, any length).
#[test]
fn a_missing_variables_name_is_cleaned_and_capped() {
    let mut settings = Settings::working();
    settings.unset(keys::EST_HOST);
    settings.set(keys::EST_HOST_VARIABLE, "NOPE\x1b[31m\r\nX-Injected: 1");
    settings.unset(keys::EST_USER);
    settings.set(keys::EST_USER_VARIABLE, &"V".repeat(5000));
    let Err(HandlerError::Config(text)) = Config::load(&settings) else {
        panic!("a missing variable must be a configuration error");
    };
    assert_clean(&text, 1000);
    assert!(text.contains("NOPE [31m  X-Injected: 1"), "{text}");
    assert!(text.contains(&format!("{}…", "V".repeat(100))), "{text}");
    crate::config(include_bytes!(
        "../../../fuzz/corpus/config/regression-missing-variable"
    ));
}

/// The configuration store's own words (the host's) reached the
/// configuration error, and the API's, raw.
#[test]
fn the_stores_words_are_cleaned_and_capped() {
    let mut settings = Settings::working();
    settings.failing = Some((keys::EST_HOST.into(), "store\nunavailable\x07".into()));
    let Err(HandlerError::Config(text)) = Config::load(&settings) else {
        panic!("a failing store must be a configuration error");
    };
    assert_clean(&text, 1000);
    assert!(text.contains("store unavailable"), "{text}");

    settings.failing = Some((keys::API_AUTH.into(), format!("{}\r\n", "x".repeat(999))));
    let why = ApiAccess::load(&settings).expect_err("a failing store");
    assert_clean(&why, 300);
    crate::config(include_bytes!(
        "../../../fuzz/corpus/config/regression-store-fails"
    ));
}

/// A transport failure's words come from the host (a TLS alert's message,
/// a host error): they reached the handler's errors, and so problem
/// documents and logs, raw.
#[test]
fn a_transport_failures_words_are_cleaned_and_capped() {
    let words = format!("alert\nhandshake_failure\x1b[0m{}", "w".repeat(2000));
    let failure = TransportError::failed(TransportCause::TlsAlert(Some(40)), words);
    let Err(HandlerError::Transport(got)) =
        interpret(Endpoint::SimpleEnroll, Err(failure), &Default::default())
    else {
        panic!("a transport failure must stay one");
    };
    assert_eq!(got.cause, TransportCause::TlsAlert(Some(40)));
    assert!(
        got.detail
            .starts_with("/simpleenroll: alert handshake_failure [0m")
    );
    assert_clean(&got.detail, 600);
    crate::est_answer(include_bytes!(
        "../../../fuzz/corpus/est_answer/regression-transport-words"
    ));
}
