//! What the command line shows a person: a summary of an issued
//! certificate, a check of its chain (with [`crate::tls`]'s verifier), and
//! an explanation of each failure.

use crate::bindings::{HandlerError, TransportCause, TransportFailure};
use crate::pem::{self, PemBundle};
use crate::tls::ChainVerifier;
use anyhow::{Context, Result};
use der::Decode;
use est_ca_handler::api::ProblemKind;
use std::fmt;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// The facts about a certificate an operator looks at first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Subject, RFC 4514.
    pub subject: String,
    /// DNS names and IP addresses from the subject alternative names.
    pub sans: Vec<String>,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
}

impl Summary {
    /// Reads the summary of a DER certificate.
    pub fn of(der: &[u8]) -> Result<Self> {
        let cert = Certificate::from_der(der).context("not an X.509 certificate")?;
        let tbs = cert.tbs_certificate();
        let sans = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san.0.iter().filter_map(general_name).collect(),
            _ => Vec::new(),
        };
        let serial = tbs
            .serial_number()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(Self {
            subject: tbs.subject().to_string(),
            sans,
            issuer: tbs.issuer().to_string(),
            serial,
            not_before: tbs.validity().not_before.to_string(),
            not_after: tbs.validity().not_after.to_string(),
        })
    }
}

fn general_name(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::DnsName(dns) => Some(format!("DNS:{}", dns.as_str())),
        GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
            4 => <[u8; 4]>::try_from(ip.as_bytes())
                .ok()
                .map(|b| format!("IP:{}", std::net::Ipv4Addr::from(b))),
            16 => <[u8; 16]>::try_from(ip.as_bytes())
                .ok()
                .map(|b| format!("IP:{}", std::net::Ipv6Addr::from(b))),
            _ => None,
        },
        _ => None,
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "subject:    {}", self.subject)?;
        writeln!(
            f,
            "SANs:       {}",
            if self.sans.is_empty() {
                "(none)".into()
            } else {
                self.sans.join(", ")
            }
        )?;
        writeln!(f, "issuer:     {}", self.issuer)?;
        writeln!(f, "serial:     {}", self.serial)?;
        writeln!(f, "valid from: {}", self.not_before)?;
        write!(f, "valid to:   {}", self.not_after)
    }
}

/// Verifies that the bundle's certificate chains, through the rest of the
/// bundle, to one of the PEM trust anchors, and is valid now for its first
/// DNS name (or IP address).
pub fn verify_chain(bundle: &str, trust_anchors_pem: &str) -> Result<()> {
    let bundle = PemBundle::parse(bundle)?;
    let anchors = pem::certificates(trust_anchors_pem).context("the trust anchors")?;
    let summary = Summary::of(&bundle.leaf)?;
    let name = summary
        .sans
        .iter()
        .find_map(|san| san.strip_prefix("DNS:").or_else(|| san.strip_prefix("IP:")))
        .context("the certificate names no DNS name or IP address to verify")?;
    ChainVerifier::new(&anchors)?.verify(&bundle.leaf, &bundle.chain, name)
}

/// What to look at for a transport failure of `cause`; `None` for
/// [`TransportCause::Other`], whose detail is all there is to say.
pub fn transport_hint(cause: TransportCause) -> Option<String> {
    Some(match cause {
        TransportCause::Dns => "check the host name in est_host".into(),
        TransportCause::ConnectionRefused => {
            "nothing listens there: check the port in est_host".into()
        }
        TransportCause::ConnectionReset => {
            "the server closed the connection: check that est_host is an EST server and that it is up".into()
        }
        TransportCause::TlsUntrusted => {
            "the server's certificate is not trusted: set ca_bundle to its CA (PEM)".into()
        }
        TransportCause::TlsAlert(code) => tls_alert_hint(code),
        TransportCause::TlsProtocol => TLS_PROTOCOL_HINT.into(),
        TransportCause::DestinationDenied => {
            "the host allows requests to est_host only (scheme, host and port)".into()
        }
        TransportCause::Timeout => "see request_timeout".into(),
        TransportCause::Other => return None,
    })
}

const TLS_PROTOCOL_HINT: &str = "no common TLS version or cipher suite, or a certificate the host does not trust: check ca_bundle and the server's TLS settings";

/// What to look at when the server ended the handshake with alert `code`:
/// the client certificate for the alerts about certificates, the TLS
/// settings for those about versions and ciphers.
fn tls_alert_hint(code: Option<u8>) -> String {
    let alert = tls_alert_name(code);
    match code {
        Some(70 | 71) => {
            format!("the server refused the TLS handshake ({alert}): {TLS_PROTOCOL_HINT}")
        }
        _ => format!(
            "the server refused the TLS handshake ({alert}): check est_client_cert/est_client_key and that the EST server trusts their issuer"
        ),
    }
}

/// The name of a TLS alert code (RFC 8446 §6).
fn tls_alert_name(code: Option<u8>) -> String {
    let Some(code) = code else {
        return "alert code not reported".into();
    };
    let name = match code {
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        48 => "unknown_ca",
        49 => "access_denied",
        70 => "protocol_version",
        71 => "insufficient_security",
        116 => "certificate_required",
        _ => return format!("alert {code}"),
    };
    format!("alert {code}, {name}")
}

/// The problem kind of the component's `error`: what the HTTP API would
/// name it, so that every host speaks of failures with one list of names.
pub fn problem_kind(error: &HandlerError) -> ProblemKind {
    match error {
        HandlerError::Config(_) => ProblemKind::Config,
        HandlerError::BadCsr(_) => ProblemKind::BadCsr,
        HandlerError::Unauthorized(_) => ProblemKind::Unauthorized,
        HandlerError::Rejected(_) => ProblemKind::Rejected,
        HandlerError::ServerError(_) => ProblemKind::ServerError,
        HandlerError::Transport(TransportFailure {
            cause: TransportCause::Timeout,
            ..
        }) => ProblemKind::Timeout,
        HandlerError::Transport(_) => ProblemKind::Transport,
        HandlerError::MalformedAnswer(_) => ProblemKind::MalformedAnswer,
        HandlerError::CertificateMismatch(_) => ProblemKind::CertificateMismatch,
        HandlerError::NotSupported(_) => ProblemKind::NotSupported,
    }
}

/// One line saying what failed, plus a hint about what to look at.
pub fn explain(error: &HandlerError) -> String {
    match error {
        HandlerError::Config(detail) => format!("configuration error: {detail}"),
        HandlerError::BadCsr(detail) => format!("bad CSR: {detail}"),
        HandlerError::Unauthorized(f) => format!(
            "authentication failed (HTTP {}): {} — check est_user/est_password, or that the EST server trusts the client certificate",
            f.status, f.detail
        ),
        HandlerError::Rejected(f) => format!(
            "the CA rejected the request (HTTP {}): {}",
            f.status, f.detail
        ),
        HandlerError::ServerError(f) => {
            format!("the EST server failed (HTTP {}): {}", f.status, f.detail)
        }
        HandlerError::Transport(failure) => {
            let TransportFailure { cause, detail } = failure;
            match transport_hint(*cause) {
                Some(hint) if matches!(cause, TransportCause::Timeout) => {
                    format!("the EST server did not answer in time: {detail} — {hint}")
                }
                Some(hint) => format!("cannot reach the EST server: {detail} — {hint}"),
                None => format!("cannot reach the EST server: {detail}"),
            }
        }
        HandlerError::MalformedAnswer(detail) => {
            format!("the EST server's answer is unusable: {detail}")
        }
        HandlerError::CertificateMismatch(detail) => {
            format!("the issued certificate was refused: {detail}")
        }
        HandlerError::NotSupported(detail) => format!("not supported: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    /// A root, an issuing CA under it, and a leaf for `names` under that,
    /// as PEM: (bundle of leaf + issuing CA + root, root).
    fn chain(names: &[&str]) -> (String, String) {
        let ca = |cn: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, cn);
            params
        };
        let root =
            CertifiedIssuer::self_signed(ca("Report Root"), KeyPair::generate().unwrap()).unwrap();
        let issuing =
            CertifiedIssuer::signed_by(ca("Report CA"), KeyPair::generate().unwrap(), &root)
                .unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("none"));
        let leaf = params
            .signed_by(&KeyPair::generate().unwrap(), &issuing)
            .unwrap();
        ([leaf.pem(), issuing.pem(), root.pem()].concat(), root.pem())
    }

    #[test]
    fn a_summary_names_subject_sans_issuer_and_serial() {
        let (bundle, _) = chain(&["report.example.test", "192.0.2.7"]);
        let summary = Summary::of(&PemBundle::parse(&bundle).unwrap().leaf).unwrap();
        assert_eq!(summary.subject, "CN=report.example.test");
        assert_eq!(summary.issuer, "CN=Report CA");
        assert_eq!(summary.sans, ["DNS:report.example.test", "IP:192.0.2.7"]);
        assert!(
            summary
                .serial
                .split(':')
                .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit())),
            "{}",
            summary.serial
        );
        let shown = summary.to_string();
        assert!(
            shown.starts_with("subject:    CN=report.example.test\n"),
            "{shown}"
        );
        assert!(Summary::of(b"not DER").is_err());
    }

    #[test]
    fn a_chain_verifies_up_to_its_own_root_only() {
        let (bundle, root) = chain(&["verify.example.test"]);
        verify_chain(&bundle, &root).unwrap();
        let (_, other_root) = chain(&["verify.example.test"]);
        let err = verify_chain(&bundle, &other_root).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err:#}");
        let err = verify_chain("", &root).unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err:#}");
        let err = verify_chain(&bundle, "").unwrap_err();
        assert!(format!("{err:#}").contains("trust anchors"), "{err:#}");
        let (nameless, root) = chain(&[]);
        let err = verify_chain(&nameless, &root).unwrap_err();
        assert!(err.to_string().contains("no DNS name"), "{err:#}");
    }

    fn transport(cause: TransportCause) -> HandlerError {
        HandlerError::Transport(TransportFailure {
            cause,
            detail: "what the component said".into(),
        })
    }

    #[test]
    fn every_transport_cause_gets_its_own_hint() {
        use TransportCause as C;
        let cases: [(TransportCause, &str); 9] = [
            (C::Dns, "check the host name in est_host"),
            (
                C::ConnectionRefused,
                "nothing listens there: check the port",
            ),
            (C::ConnectionReset, "the server closed the connection"),
            (C::TlsUntrusted, "not trusted: set ca_bundle to its CA"),
            (
                C::TlsAlert(Some(48)),
                "(alert 48, unknown_ca): check est_client_cert/est_client_key",
            ),
            (C::TlsProtocol, "no common TLS version or cipher suite"),
            (
                C::DestinationDenied,
                "the host allows requests to est_host only",
            ),
            (C::Timeout, "see request_timeout"),
            (C::Other, ""),
        ];
        for (cause, hint) in cases {
            let shown = explain(&transport(cause));
            assert!(shown.contains("what the component said"), "{shown}");
            if hint.is_empty() {
                assert_eq!(
                    shown,
                    "cannot reach the EST server: what the component said"
                );
                assert_eq!(transport_hint(cause), None);
            } else {
                assert!(
                    shown.ends_with(&format!("— {}", transport_hint(cause).unwrap())),
                    "{shown}"
                );
                assert!(shown.contains(hint), "{cause:?}: {shown}");
            }
        }
        assert!(
            explain(&transport(C::Timeout)).starts_with("the EST server did not answer in time: "),
        );
        assert!(explain(&transport(C::Dns)).starts_with("cannot reach the EST server: "),);
    }

    #[test]
    fn tls_alerts_are_named_and_hinted_by_kind() {
        use TransportCause::TlsAlert;
        for (code, name) in [
            (40, "handshake_failure"),
            (42, "bad_certificate"),
            (116, "certificate_required"),
        ] {
            let hint = transport_hint(TlsAlert(Some(code))).unwrap();
            assert!(hint.contains(&format!("(alert {code}, {name})")), "{hint}");
            assert!(hint.contains("est_client_cert/est_client_key"), "{hint}");
        }
        let version = transport_hint(TlsAlert(Some(70))).unwrap();
        assert!(
            version.contains("alert 70, protocol_version") && version.contains("TLS version"),
            "{version}"
        );
        assert!(!version.contains("est_client_cert"), "{version}");
        let unnamed = transport_hint(TlsAlert(Some(200))).unwrap();
        assert!(unnamed.contains("(alert 200)"), "{unnamed}");
        let unknown = transport_hint(TlsAlert(None)).unwrap();
        assert!(unknown.contains("alert code not reported"), "{unknown}");
    }
}
