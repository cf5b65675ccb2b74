//! The CA-handler operations, independent of how they are called: CSR in,
//! EST requests out, PKCS#7 back, PEM out.

use crate::config::{Config, NamesCheck};
use crate::encoding;
use crate::error::{
    HandlerError, RevocationError, TransportCause, TransportFailure, UnreturnedCertificate,
};
use crate::est::answer::AnswerError;
use crate::est::pkcs7::ReceivedCertificate;
use crate::est::{self, Answer, Endpoint, EstRequest};
use crate::transport::{Limits, Transport};
use crate::x509::chain::issuer_chain;
use crate::x509::csr::{Csr, CsrError, same_public_key};
use crate::x509::names::{self, Names};
use std::time::{Duration, Instant};
use x509_cert::Certificate;

/// An issued certificate in acme2certifier's shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, then its issuing chain, as PEM.
    pub cert_bundle: String,
    /// The certificate's DER as base64 on one line.
    pub cert_raw: String,
    /// Things the operator should know about this certificate (names the
    /// CSR asked for that it lacks, under `est_names_check = warn`).
    pub warnings: Vec<String>,
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
    let certs = fetch_ca_certs(config, transport, config.request_timeout_secs)
        .map_err(|e| e.redacted(&config.redactions))?;
    Ok(certs.iter().map(certificate_pem).collect())
}

/// Requests a certificate for `csr_text` (base64url, base64 or PEM).
pub fn enroll(
    config: &Config,
    transport: &dyn Transport,
    csr_text: &str,
) -> Result<Enrollment, HandlerError> {
    let csr = Csr::parse(csr_text)?;
    submit_redacted(config, transport, &csr)
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
        return Err(CsrError::PollIdentifier {
            given: crate::text::SafeText::new(poll_identifier, 80),
            expected: csr.fingerprint(),
        }
        .into());
    }
    match submit_redacted(config, transport, &csr) {
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

/// [`submit`], with the handler's own secrets taken out of every word of
/// its result (its error, or the certificate's warnings): the last
/// safeguard for outside text that reached them by another way than the
/// EST answers' ([`est::interpret`] takes them out there already), such as
/// the names in a certificate.
fn submit_redacted(
    config: &Config,
    transport: &dyn Transport,
    csr: &Csr,
) -> Result<Enrollment, HandlerError> {
    let secrets = &config.redactions;
    match submit(config, transport, csr) {
        Ok(Enrollment::Issued(mut cert)) => {
            for warning in &mut cert.warnings {
                if let std::borrow::Cow::Owned(clean) = secrets.apply(warning) {
                    *warning = clean;
                }
            }
            Ok(Enrollment::Issued(cert))
        }
        Ok(pending) => Ok(pending),
        Err(error) => Err(error.redacted(secrets)),
    }
}

/// Sends `/cacerts` and `/simpleenroll` together and builds the result.
///
/// Once the CA has issued, the certificate is never lost: a failed
/// `/cacerts` is tried once more only when the try can finish within
/// `request_timeout` of the start (so that the host's deadline never cuts
/// the call off); should it fail again, or find no time, the certificate
/// comes back with the chain certificates that came with it and a warning
/// saying why `/cacerts` failed. Where it cannot come back at all, the
/// error carries its serial number and its PEM.
fn submit(
    config: &Config,
    transport: &dyn Transport,
    csr: &Csr,
) -> Result<Enrollment, HandlerError> {
    let started = transport.now();
    let secrets = &config.redactions;
    // The enrollment goes first: it is the server's longer task. The CA
    // certificates usually come back first and are read while it runs.
    let requests = vec![
        EstRequest::SimpleEnroll(csr).to_http(config),
        EstRequest::CaCerts.to_http(config),
    ];
    let (mut enrolled, mut cacerts) = (None, None);
    transport.exchange(
        requests,
        est::limits(config),
        &mut |index, outcome| match index {
            0 => enrolled = Some(outcome),
            1 => {
                cacerts = Some(ca_certificates(est::interpret(
                    Endpoint::CaCerts,
                    outcome,
                    secrets,
                )))
            }
            _ => {}
        },
    );
    let Some(enrolled) = enrolled else {
        return Err(lost_request());
    };
    let enrolled = match est::interpret(Endpoint::SimpleEnroll, enrolled, secrets)? {
        Answer::Pending { retry_after_secs } => {
            return Ok(Enrollment::Pending(Pending {
                poll_identifier: csr.fingerprint(),
                retry_after_seconds: retry_after_secs,
            }));
        }
        Answer::Certificates(certs) => certs,
    };
    let (leaf, extra) = pick_issued(csr, enrolled)?;
    let mut warnings =
        check_names(config.names_check, csr, &leaf).map_err(|e| issued_but(&leaf, e))?;
    let cacerts = match cacerts.unwrap_or_else(|| Err(lost_request())) {
        Ok(cas) => Ok(cas),
        // The certificate exists now: one more try, if it can finish in
        // time, keeps its chain from being lost.
        Err(first) => match time_left(config, transport, started) {
            Some(secs) => fetch_ca_certs(config, transport, secs),
            None => Err(first),
        },
    };
    let issued = match cacerts {
        Ok(cas) => bundle(&leaf, &cas, &extra)?,
        Err(why) => {
            let issued = with_known_chain(&leaf, &extra);
            warnings.push(format!(
                "the certificate was issued, but /cacerts failed ({why}); it is returned with the {} chain certificate(s) that came with it; fetch the CA certificates (ca-certs) to complete its chain",
                issued.chain_len
            ));
            issued.certificate
        }
    };
    Ok(Enrollment::Issued(IssuedCertificate { warnings, ..issued }))
}

/// The whole seconds left of `request_timeout` since `started`, when there
/// is at least one: a request started later could not finish before the
/// call's deadline.
fn time_left(config: &Config, transport: &dyn Transport, started: Instant) -> Option<u32> {
    let budget = Duration::from_secs(config.request_timeout_secs.into());
    let left = budget.checked_sub(transport.now().saturating_duration_since(started))?;
    u32::try_from(left.as_secs()).ok().filter(|&secs| secs >= 1)
}

/// The CA certificates of a `/cacerts` answer.
fn ca_certificates(
    answer: Result<Answer, HandlerError>,
) -> Result<Vec<ReceivedCertificate>, HandlerError> {
    match answer? {
        Answer::Certificates(certs) => Ok(certs),
        Answer::Pending { .. } => Err(AnswerError::PendingCaCerts.into()),
    }
}

/// Compares the issued certificate's names with the CSR's: an error under
/// `est_names_check = error`, a warning under `warn`, nothing under `off`.
fn check_names(
    mode: NamesCheck,
    csr: &Csr,
    leaf: &Certificate,
) -> Result<Vec<String>, HandlerError> {
    if mode == NamesCheck::Off {
        return Ok(Vec::new());
    }
    let issued = Names::of_certificate(leaf)
        .map_err(|why| HandlerError::from(AnswerError::IssuedNames(why)))?;
    let missing = csr.names().missing_from(&issued);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!(
        "the issued certificate lacks {} name(s) the CSR asked for: {}",
        missing.len(),
        names::list(&missing)
    );
    match mode {
        NamesCheck::Error => Err(HandlerError::CertificateMismatch(format!(
            "{text} (est_names_check = error)"
        ))),
        _ => Ok(vec![format!(
            "{text}; returned anyway (est_names_check = warn)"
        )]),
    }
}

/// `GET /cacerts` alone, given `timeout_secs` in all.
fn fetch_ca_certs(
    config: &Config,
    transport: &dyn Transport,
    timeout_secs: u32,
) -> Result<Vec<ReceivedCertificate>, HandlerError> {
    let request = EstRequest::CaCerts.to_http(config);
    let limits = Limits {
        timeout_secs,
        ..est::limits(config)
    };
    let outcome = transport.send_all(vec![request], limits).into_iter().next();
    let outcome = outcome.ok_or_else(lost_request)?;
    ca_certificates(est::interpret(
        Endpoint::CaCerts,
        outcome,
        &config.redactions,
    ))
}

/// Finds the certificate for the CSR's key among those the server
/// returned; the others are kept as possible chain certificates.
fn pick_issued(
    csr: &Csr,
    mut certs: Vec<ReceivedCertificate>,
) -> Result<(ReceivedCertificate, Vec<ReceivedCertificate>), HandlerError> {
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
                .map(|c| crate::x509::dn::to_string(c.tbs_certificate().subject()))
                .unwrap_or_default()
        ))),
    }
}

fn bundle(
    leaf: &ReceivedCertificate,
    cas: &[ReceivedCertificate],
    extra: &[ReceivedCertificate],
) -> Result<IssuedCertificate, HandlerError> {
    let chain = issuer_chain(leaf, cas.iter().chain(extra));
    if chain.is_empty() {
        return Err(issued_but(
            leaf,
            AnswerError::NoIssuer {
                ca_certificates: cas.len(),
                issuer: crate::x509::dn::to_string(leaf.tbs_certificate().issuer()),
            }
            .into(),
        ));
    }
    Ok(bundled(leaf, &chain))
}

/// An issued certificate whose CA certificates could not be fetched: the
/// leaf, with as much of its chain as came with it.
struct KnownChain {
    certificate: IssuedCertificate,
    chain_len: usize,
}

fn with_known_chain(leaf: &ReceivedCertificate, extra: &[ReceivedCertificate]) -> KnownChain {
    let chain = issuer_chain(leaf, extra.iter());
    KnownChain {
        chain_len: chain.len(),
        certificate: bundled(leaf, &chain),
    }
}

/// The leaf, then `chain`, as acme2certifier takes them.
fn bundled(leaf: &ReceivedCertificate, chain: &[&ReceivedCertificate]) -> IssuedCertificate {
    let mut cert_bundle = certificate_pem(leaf);
    for ca in chain {
        cert_bundle.push_str(&certificate_pem(ca));
    }
    IssuedCertificate {
        cert_bundle,
        cert_raw: encoding::base64_line(leaf.der()),
        warnings: Vec::new(),
    }
}

/// Adds to `error` that a certificate was issued, with its serial number
/// and its PEM, so that it is not lost although the handler could not
/// return it as a result.
fn issued_but(leaf: &ReceivedCertificate, error: HandlerError) -> HandlerError {
    let tbs = leaf.tbs_certificate();
    error.with_unreturned(UnreturnedCertificate {
        serial: tbs.serial_number().to_string(),
        subject: crate::x509::dn::to_string(tbs.subject()),
        base64: encoding::base64_line(leaf.der()),
    })
}

/// A transport that answered fewer requests than it was given.
fn lost_request() -> HandlerError {
    HandlerError::Transport(TransportFailure::new(
        TransportCause::Other,
        "the transport lost a request",
    ))
}

/// PEM of the certificate exactly as the server sent it.
fn certificate_pem(cert: &ReceivedCertificate) -> String {
    encoding::pem("CERTIFICATE", cert.der())
}

#[cfg(test)]
mod tests;
