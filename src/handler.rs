//! The CA-handler operations, independent of how they are called: CSR in,
//! EST requests out, PKCS#7 back, PEM out.

use crate::chain::issuer_chain;
use crate::config::Config;
use crate::csr::{Csr, same_public_key};
use crate::encoding;
use crate::error::{HandlerError, RevocationError};
use crate::est::{self, Answer, Operation};
use crate::http::Transport;
use der::Encode;
use x509_cert::Certificate;

/// An issued certificate in acme2certifier's shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, then its issuing chain, as PEM.
    pub cert_bundle: String,
    /// The certificate's DER as base64 on one line.
    pub cert_raw: String,
}

/// A request the CA has not decided yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What `poll` needs back: the CSR's fingerprint.
    pub poll_identifier: String,
    /// Seconds the CA asked to wait.
    pub retry_after_seconds: u32,
}

/// The outcome of `enroll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrollment {
    /// Issued at once.
    Issued(IssuedCertificate),
    /// Deferred by the CA.
    Pending(Pending),
}

/// The outcome of `poll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// Issued now.
    Issued(IssuedCertificate),
    /// Still deferred.
    Pending(Pending),
    /// Refused by the CA for good, with its reason.
    Rejected(String),
}

/// The CA certificates the server publishes, as PEM, in its order.
pub fn ca_certs(config: &Config, transport: &dyn Transport) -> Result<Vec<String>, HandlerError> {
    let certs = fetch_ca_certs(config, transport)?;
    certs.iter().map(certificate_pem).collect()
}

/// Requests a certificate for `csr_text` (base64url, base64 or PEM).
pub fn enroll(
    config: &Config,
    transport: &dyn Transport,
    csr_text: &str,
) -> Result<Enrollment, HandlerError> {
    let csr = Csr::parse(csr_text)?;
    submit(config, transport, &csr)
}

/// Asks again for a certificate `enroll` left pending, by repeating the
/// enrollment request (RFC 7030 §4.2.3). `poll_identifier` must be the one
/// `enroll` returned for this CSR.
pub fn poll(
    config: &Config,
    transport: &dyn Transport,
    poll_identifier: &str,
    csr_text: &str,
) -> Result<PollResult, HandlerError> {
    let csr = Csr::parse(csr_text)?;
    if poll_identifier.trim() != csr.fingerprint() {
        return Err(HandlerError::BadCsr(format!(
            "the poll identifier \"{}\" does not belong to this CSR (its identifier is {})",
            crate::config::sanitize(poll_identifier, 80),
            csr.fingerprint()
        )));
    }
    match submit(config, transport, &csr) {
        Ok(Enrollment::Issued(cert)) => Ok(PollResult::Issued(cert)),
        Ok(Enrollment::Pending(pending)) => Ok(PollResult::Pending(pending)),
        Err(HandlerError::Rejected(failure)) => Ok(PollResult::Rejected(format!(
            "HTTP {}: {}",
            failure.status, failure.detail
        ))),
        Err(other) => Err(other),
    }
}

/// Revocation is not part of EST's simple API.
pub fn revoke() -> Result<(), RevocationError> {
    Err(RevocationError {
        code: 500,
        message: "urn:ietf:params:acme:error:serverInternal".into(),
        detail: "Revocation is not supported.".into(),
    })
}

/// EST servers push nothing to the ACME server.
pub fn trigger() -> Result<IssuedCertificate, HandlerError> {
    Err(HandlerError::NotSupported("Method not implemented.".into()))
}

/// Sends `/cacerts` and `/simpleenroll` together and builds the result.
fn submit(
    config: &Config,
    transport: &dyn Transport,
    csr: &Csr,
) -> Result<Enrollment, HandlerError> {
    let requests = vec![
        est::request(config, Operation::SimpleEnroll, Some(csr)),
        est::request(config, Operation::CaCerts, None),
    ];
    let mut outcomes = transport
        .send_all(requests, est::limits(config))
        .into_iter();
    let (Some(enrolled), Some(cacerts)) = (outcomes.next(), outcomes.next()) else {
        return Err(HandlerError::Transport(
            "the transport lost a request".into(),
        ));
    };
    let enrolled = match est::interpret(Operation::SimpleEnroll, enrolled)? {
        Answer::Pending { retry_after_secs } => {
            return Ok(Enrollment::Pending(Pending {
                poll_identifier: csr.fingerprint(),
                retry_after_seconds: retry_after_secs,
            }));
        }
        Answer::Certificates(certs) => certs,
    };
    let (leaf, extra) = pick_issued(csr, enrolled)?;
    let cas = match est::interpret(Operation::CaCerts, cacerts) {
        Ok(Answer::Certificates(cas)) => cas,
        // The certificate exists now; one more try keeps it from being lost.
        _ => fetch_ca_certs(config, transport).map_err(|e| issued_but(&leaf, e))?,
    };
    bundle(&leaf, &cas, &extra).map(Enrollment::Issued)
}

fn fetch_ca_certs(
    config: &Config,
    transport: &dyn Transport,
) -> Result<Vec<Certificate>, HandlerError> {
    let request = est::request(config, Operation::CaCerts, None);
    let outcome = transport
        .send_all(vec![request], est::limits(config))
        .into_iter()
        .next();
    let outcome =
        outcome.ok_or_else(|| HandlerError::Transport("the transport lost a request".into()))?;
    match est::interpret(Operation::CaCerts, outcome)? {
        Answer::Certificates(certs) => Ok(certs),
        Answer::Pending { .. } => Err(HandlerError::MalformedAnswer(
            "/cacerts: unexpected pending answer".into(),
        )),
    }
}

/// Finds the certificate for the CSR's key among those the server
/// returned; the others are kept as possible chain certificates.
fn pick_issued(
    csr: &Csr,
    mut certs: Vec<Certificate>,
) -> Result<(Certificate, Vec<Certificate>), HandlerError> {
    let position = certs.iter().position(|cert| {
        same_public_key(
            cert.tbs_certificate().subject_public_key_info(),
            csr.public_key(),
        )
    });
    match position {
        Some(index) => {
            let leaf = certs.remove(index);
            Ok((leaf, certs))
        }
        None => Err(HandlerError::CertificateMismatch(format!(
            "none of the {} certificate(s) returned by /simpleenroll certifies the CSR's public key (CSR subject \"{}\"; first certificate's subject \"{}\")",
            certs.len(),
            csr.subject(),
            certs
                .first()
                .map(|c| c.tbs_certificate().subject().to_string())
                .unwrap_or_default()
        ))),
    }
}

fn bundle(
    leaf: &Certificate,
    cas: &[Certificate],
    extra: &[Certificate],
) -> Result<IssuedCertificate, HandlerError> {
    let mut pool: Vec<Certificate> = cas.to_vec();
    pool.extend(extra.iter().cloned());
    let chain = issuer_chain(leaf, &pool);
    if chain.is_empty() {
        return Err(issued_but(
            leaf,
            HandlerError::MalformedAnswer(format!(
                "none of the {} CA certificate(s) from /cacerts is the issuer \"{}\"",
                cas.len(),
                leaf.tbs_certificate().issuer()
            )),
        ));
    }
    let leaf_der = leaf.to_der().map_err(encode_error)?;
    let mut cert_bundle = encoding::pem("CERTIFICATE", &leaf_der);
    for ca in chain {
        cert_bundle.push_str(&certificate_pem(ca)?);
    }
    Ok(IssuedCertificate {
        cert_bundle,
        cert_raw: encoding::base64_line(&leaf_der),
    })
}

/// Adds to `error` that a certificate was issued, so that an operator can
/// find it at the CA even though the handler could not complete.
fn issued_but(leaf: &Certificate, error: HandlerError) -> HandlerError {
    let tbs = leaf.tbs_certificate();
    error.with_note(&format!(
        " (the CA issued certificate serial {} for \"{}\", which could not be returned)",
        tbs.serial_number(),
        tbs.subject()
    ))
}

fn certificate_pem(cert: &Certificate) -> Result<String, HandlerError> {
    Ok(encoding::pem(
        "CERTIFICATE",
        &cert.to_der().map_err(encode_error)?,
    ))
}

fn encode_error(e: der::Error) -> HandlerError {
    HandlerError::MalformedAnswer(format!("a certificate could not be re-encoded: {e}"))
}
