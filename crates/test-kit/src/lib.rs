//! Test fixtures for est-ca-handler, kept out of the product crate: DER
//! helpers ([`tlv`], [`certs_only`]), base64 as EST servers and ACME
//! clients send it ([`b64`], [`b64url`]), the one scripted EST server
//! ([`ScriptedTransport`] and its answers), and, with the `ca` feature (on
//! by default), a real test CA ([`TestCa`]), CSRs ([`make_csr`]) and
//! PKCS#12 files ([`pkcs12`]).
//!
//! Used as a dev-dependency by est-ca-handler's unit tests and by the
//! host's tests, and by the fuzz checks (`est-fuzz-checks`, without
//! `ca`). The helpers that make test input encode it with their own code
//! (the `base64` crate, hand-built DER, rcgen, p12-keystore), not with the
//! handler's, so that a bug in the handler's encoders cannot hide itself.
//!
//! # The scripted EST server in est-ca-handler's unit tests
//!
//! The kit depends on est-ca-handler, so in that crate's own unit tests
//! (where the kit is a dev-dependency) the kit's est-ca-handler is a
//! second copy of the crate, whose `Transport` trait is not the one the
//! code under test takes. Byte helpers do not mind; the scripted server
//! does. Its two source files (`scripted.rs`, [`ScriptedTransport`] and its
//! answers, and `ca_server.rs`, the servers backed by a [`TestCa`]) therefore name the handler only as
//! `crate::transport` and `crate::encoding` and the kit's other helpers
//! as `super::`, and est-ca-handler's `#[cfg(test)]` module `testutil`
//! compiles the same files again (`#[path]`) against the crate itself:
//! one source, one type a crate.

#![warn(missing_docs)]

mod asn1;
#[cfg(feature = "ca")]
mod ca;
#[cfg(feature = "ca")]
mod ca_server;
#[cfg(feature = "ca")]
mod pkcs12;
mod scripted;

pub use asn1::{certs_only, tlv};
#[cfg(feature = "ca")]
pub use ca::{TestCa, make_csr, make_csr_with};
#[cfg(feature = "ca")]
pub use ca_server::{enroll_answers, est_server, issuing, issuing_with};
#[cfg(feature = "ca")]
pub use pkcs12::pkcs12;
pub use scripted::{
    ScriptedTransport, enrolled_csr, is_enroll, pkcs7_answer, pkcs7_response, response,
};

// The handler's modules as the shared source files name them (see above).
use est_ca_handler::{encoding, transport};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Standard base64 in 64-column lines, each ending in `\n`, as EST servers
/// send certs-only answers (RFC 7030, section 4.1.3).
pub fn b64(der: &[u8]) -> String {
    let flat = STANDARD.encode(der);
    let mut out = String::with_capacity(flat.len() + flat.len() / 64 + 1);
    for line in flat.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out
}

/// ACME's encoding of a CSR: base64url without padding (RFC 8555).
pub fn b64url(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use est_ca_handler::config::Scheme;
    use est_ca_handler::transport::{Limits, Method, Request, Transport};

    fn get(path: &str) -> Request {
        Request {
            method: Method::Get,
            scheme: Scheme::Https,
            authority: "est.test".into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_scripted_server_answers_records_and_loses_as_scripted() {
        let transport = ScriptedTransport::losing(|request| match request.path.as_str() {
            "/lost" => None,
            "/ok" => Some(response(200, &[("x-a", "1")], "body")),
            _ => Some(response(404, &[], "")),
        });
        let limits = Limits {
            timeout_secs: 1,
            max_body: 10,
        };
        let outcomes = transport.send_all(vec![get("/ok"), get("/no")], limits);
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0].as_ref().unwrap().body, b"body");
        assert_eq!(outcomes[1].as_ref().unwrap().status, 404);
        let outcomes = transport.send_all(vec![get("/ok"), get("/lost"), get("/ok")], limits);
        assert_eq!(outcomes.len(), 1, "the lost request ends the batch");
        assert_eq!(transport.batches.borrow().len(), 2);
        let paths: Vec<String> = transport.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/ok", "/no", "/ok", "/lost", "/ok"]);
        let statuses: Vec<u16> = transport.answers().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 404, 200]);
    }

    #[test]
    fn b64_wraps_at_64_columns() {
        let text = b64(&[0xff; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [64, 64, 8]
        );
        assert!(text.ends_with('\n'));
        assert_eq!(
            STANDARD.decode(text.replace('\n', "")).unwrap(),
            [0xff; 100]
        );
    }
}
