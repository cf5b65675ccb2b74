//! Every configuration key, exactly as it appears under acme2certifier's
//! `[CAhandler]` section (and, for the HTTP API, beside them).

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

/// Bearer token callers of the HTTP API must send.
pub const API_TOKEN: &str = "api_token";
/// Environment variable holding `api_token`.
pub const API_TOKEN_VARIABLE: &str = "api_token_variable";
/// `none` serves the HTTP API without authentication; `token` (the
/// default) requires `api_token`.
pub const API_AUTH: &str = "api_auth";

/// Every key the component reads, for hosts and manifests that declare them.
pub const ALL: &[&str] = &[
    EST_HOST,
    EST_HOST_VARIABLE,
    EST_LABEL,
    EST_USER,
    EST_USER_VARIABLE,
    EST_PASSWORD,
    EST_PASSWORD_VARIABLE,
    EST_CLIENT_CERT,
    EST_CLIENT_KEY,
    CERT_PASSPHRASE,
    CERT_PASSPHRASE_VARIABLE,
    CA_BUNDLE,
    REQUEST_TIMEOUT,
    EST_INSECURE_HTTP,
    EST_NAMES_CHECK,
    API_TOKEN,
    API_TOKEN_VARIABLE,
    API_AUTH,
];

/// The keys whose values are secrets.
pub const SECRETS: &[&str] = &[EST_PASSWORD, CERT_PASSPHRASE, API_TOKEN];
