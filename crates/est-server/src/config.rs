//! How to run a server: its listeners and authentication
//! ([`ServerConfig`], [`AuthMode`]), the fault knobs ([`Faults`],
//! [`CacertsOrder`]), and what it records of each request
//! ([`RequestRecord`]).

use crate::ca::KeyType;
use crate::fault::{BodyFault, EnrollFault};
use std::path::PathBuf;
use std::time::Duration;

/// How clients must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMode {
    /// Anyone may enroll.
    None,
    /// HTTP Basic with the configured user and password.
    #[default]
    Basic,
    /// A TLS client certificate chained to the server's CA.
    ClientCert,
    /// Both a TLS client certificate and HTTP Basic.
    Both,
}

/// The order of the certificates in `/cacerts` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CacertsOrder {
    /// DER's canonical order (what `cms` encodes).
    #[default]
    Canonical,
    /// Root first, then the issuing CA, in exactly that order.
    RootFirst,
    /// Issuing CA first, then the root, in exactly that order.
    IssuerFirst,
}

/// Misbehaviour on demand, for tests. The default is a correct server.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer enrollments with 202 this many times per CSR before issuing.
    pub pending_times: u32,
    /// The `Retry-After` value sent with a 202.
    pub retry_after: Option<String>,
    /// Answer enrollments with this status and text body.
    pub status: Option<(u16, String)>,
    /// Spoil the body of successful enrollment answers.
    pub body: Option<BodyFault>,
    /// Send enrollment answers as `text/html`.
    pub wrong_content_type: bool,
    /// Wait this long before answering any request.
    pub delay: Option<Duration>,
    /// Issue certificates for a different key than the CSR's.
    pub other_key: bool,
    /// Leave the CSR's subject alternative names out of certificates.
    pub drop_sans: bool,
    /// Certificate order in `/cacerts`.
    pub cacerts_order: CacertsOrder,
    /// Add an unrelated self-signed certificate to `/cacerts`.
    pub cacerts_extra: bool,
    /// Choose a fault per enrollment by the CSR's name: when the subject CN,
    /// or else the first DNS SAN, starts with `fault-<kind>.` (say
    /// `fault-stall-headers.example.test`), [`EnrollFault`] `<kind>` applies
    /// to that request only, before [`Faults::fault`] and the other knobs;
    /// an unknown kind is answered with 400. Off: names are never looked at.
    pub by_csr: bool,
    /// Apply this fault to every enrollment (one that [`Faults::by_csr`]
    /// chose wins). The kinds that imitate other knobs
    /// ([`EnrollFault::Status`], [`EnrollFault::Body`], ...) override them.
    pub fault: Option<EnrollFault>,
    /// Send error answers (4xx, 5xx) without a `Content-Type` header.
    pub untyped_errors: bool,
    /// Send 202 answers without `Content-Length`, as HTTP/1.0: their body
    /// ends where the server closes the connection.
    pub pending_until_close: bool,
    /// Refuse (400) an enrollment whose base64 body does not end with a
    /// newline.
    pub require_final_newline: bool,
    /// Refuse (400) an enrollment sent without
    /// `Content-Transfer-Encoding: base64`.
    pub require_base64_header: bool,
    /// Refuse (400) a CSR whose subject has no common name (CN).
    pub require_cn: bool,
    /// Answer nothing to `GET /cacerts` (not even the status line) until the
    /// client goes away or [`STALL_LIMIT`] passes (then 503), as a CA whose
    /// publication point hangs while enrollment works.
    ///
    /// [`STALL_LIMIT`]: crate::fault::STALL_LIMIT
    pub stall_cacerts: bool,
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Prefix of the CA's names.
    pub ca_name: String,
    /// Key type of the CA, the server and issued client certificates.
    pub key_type: KeyType,
    /// Client authentication.
    pub auth: AuthMode,
    /// HTTP Basic user.
    pub user: String,
    /// HTTP Basic password.
    pub password: String,
    /// HTTPS port on 127.0.0.1 (0: any free port).
    pub https_port: u16,
    /// Also listen with plain HTTP on this port (0: any free port).
    pub http_port: Option<u16>,
    /// Write the root certificate (PEM) here.
    pub trust_anchor_out: Option<PathBuf>,
    /// Speak only TLS 1.2 (as many EST servers in the field do).
    pub tls12_only: bool,
    /// Initial faults.
    pub faults: Faults,
    /// Also listen on this port of 127.0.0.1 (0: any free port) with a
    /// [`StallingListener`]: it accepts connections and never completes a
    /// TLS handshake ([`EstServer::tls_stall_url`]).
    ///
    /// [`StallingListener`]: crate::StallingListener
    /// [`EstServer::tls_stall_url`]: crate::EstServer::tls_stall_url
    pub tls_stall_port: Option<u16>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            ca_name: "EST Test".into(),
            key_type: KeyType::EcdsaP256,
            auth: AuthMode::Basic,
            user: "estuser".into(),
            password: "estpwd".into(),
            https_port: 0,
            http_port: None,
            trust_anchor_out: None,
            tls12_only: false,
            faults: Faults::default(),
            tls_stall_port: None,
        }
    }
}

/// One request as the server saw it (never with credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET` or `POST`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Whether an `Authorization` header was present.
    pub had_authorization: bool,
    /// Whether the TLS client presented a certificate.
    pub had_client_cert: bool,
    /// The TLS version (`TLSv1_3`, `TLSv1_2`), or `None` for plain HTTP.
    pub tls_version: Option<String>,
    /// The request's `Transfer-Encoding` header, if any (a request without
    /// content should have none).
    pub transfer_encoding: Option<String>,
    /// Which connection carried the request: accepted connections are
    /// numbered from 1, per listener, in the order the server took them.
    pub connection: u64,
    /// The [`EnrollFault`] applied to this enrollment (chosen by its CSR or
    /// for the whole server), set before the fault begins.
    pub fault: Option<EnrollFault>,
}
