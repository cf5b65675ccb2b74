//! The EST requests the handler sends (RFC 7030 §4.1.2 and §4.2.1), built
//! as plain HTTP values for a [`Transport`](crate::transport::Transport).

use crate::config::{Auth, Config};
use crate::transport::{Limits, MAX_BODY, Method, Request};
use crate::x509::csr::Csr;

/// The EST endpoints the handler uses; answers are read per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /cacerts` (§4.1).
    CaCerts,
    /// `POST /simpleenroll` (§4.2.1).
    SimpleEnroll,
}

impl Endpoint {
    /// The endpoint's path segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::CaCerts => "cacerts",
            Self::SimpleEnroll => "simpleenroll",
        }
    }
}

/// One EST request: an enrollment always carries its CSR.
#[derive(Debug, Clone, Copy)]
pub enum EstRequest<'a> {
    /// Ask for the CA certificates.
    CaCerts,
    /// Ask for a certificate for this CSR.
    SimpleEnroll(&'a Csr),
}

impl EstRequest<'_> {
    /// The endpoint the request goes to.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Self::CaCerts => Endpoint::CaCerts,
            Self::SimpleEnroll(_) => Endpoint::SimpleEnroll,
        }
    }

    /// The HTTP request under `config`: Basic credentials up front when
    /// configured; an enrollment's body is the CSR as 64-column base64 with
    /// `Content-Type: application/pkcs10` and
    /// `Content-Transfer-Encoding: base64`.
    pub fn to_http(&self, config: &Config) -> Request {
        let mut headers = vec![(
            "user-agent".to_owned(),
            concat!("est-ca-handler/", env!("CARGO_PKG_VERSION")).to_owned(),
        )];
        if let Auth::Basic { user, password } = &config.auth {
            // Sent up front: not every EST server sends a challenge first.
            let credentials =
                crate::encoding::base64_line(format!("{user}:{}", password.expose()).as_bytes());
            headers.push(("authorization".to_owned(), format!("Basic {credentials}")));
        }
        let (method, body) = match self {
            Self::SimpleEnroll(csr) => {
                let body = csr.est_body().into_bytes();
                headers.push(("content-type".to_owned(), "application/pkcs10".to_owned()));
                headers.push(("content-transfer-encoding".to_owned(), "base64".to_owned()));
                headers.push(("content-length".to_owned(), body.len().to_string()));
                (Method::Post, body)
            }
            Self::CaCerts => (Method::Get, Vec::new()),
        };
        Request {
            method,
            scheme: config.url.scheme,
            authority: config.url.authority.clone(),
            path: config.url.path(self.endpoint().name()),
            headers,
            body,
        }
    }
}

/// The limits for requests made under `config`.
pub fn limits(config: &Config) -> Limits {
    Limits {
        timeout_secs: config.request_timeout_secs,
        max_body: MAX_BODY,
    }
}
