//! Enrollment faults that reach the transport: answers that stall, trickle,
//! break off, never end or never stop being pending. One is chosen for the
//! whole server ([`Faults::fault`](crate::Faults::fault)) or for one
//! request by the name in its CSR
//! ([`Faults::by_csr`](crate::Faults::by_csr)): a CSR whose subject CN, or
//! else its first DNS SAN, starts with `fault-<kind>.` (for example
//! `fault-stall-headers.example.test`) gets fault `<kind>`.
//!
//! Every fault is bounded and ends by itself when the client goes away.

use base64ct::{Base64, Encoding};
use rcgen::{CertificateSigningRequestParams, DnType, DnValue, SanType};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest a stalled answer ([`EnrollFault::StallHeaders`]), a stalled
/// TLS handshake or an endless body ([`EnrollFault::Endless`]) lasts when the
/// client stays.
pub const STALL_LIMIT: Duration = Duration::from_secs(600);

/// The pause between two bytes of a [`EnrollFault::Trickle`] answer.
pub const TRICKLE_INTERVAL: Duration = Duration::from_millis(200);

/// The length of a [`EnrollFault::Huge`] answer's body: 10 MiB.
pub const HUGE_BODY_LEN: usize = 10 * 1024 * 1024;

/// The most an [`EnrollFault::Endless`] answer sends before it ends: 4 GiB.
pub const ENDLESS_CAP: u64 = 4 * 1024 * 1024 * 1024;

/// The size of each chunk of an [`EnrollFault::Endless`] answer.
pub const ENDLESS_CHUNK: usize = 64 * 1024;

/// The prefix of CSR names that select a fault under
/// [`Faults::by_csr`](crate::Faults::by_csr).
pub const CSR_PREFIX: &str = "fault-";

/// What goes wrong with one enrollment (`/simpleenroll`,
/// `/simplereenroll`). Its text form (`stall-headers`, `status-503`, ...) is
/// the `<kind>` in `fault-<kind>.` CSR names and the value of the binary's
/// `--fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnrollFault {
    /// `stall-headers`: read the request, then send nothing (not even the
    /// status line) until the client goes away or [`STALL_LIMIT`] passes
    /// (then 503).
    StallHeaders,
    /// `trickle`: the right answer with correct headers (200,
    /// `Content-Length`), its body one byte every [`TRICKLE_INTERVAL`].
    Trickle,
    /// `reset`: the right answer's headers (200, `Content-Length`) and the
    /// first half of its body, then the TCP connection is aborted: no TLS
    /// `close_notify`, and `SO_LINGER` 0 makes the close a RST.
    Reset,
    /// `huge`: 200 `application/pkcs7-mime` with a body of
    /// [`HUGE_BODY_LEN`] bytes of base64 filler (with `Content-Length`), as
    /// fast as the client reads.
    Huge,
    /// `endless`: 200 `application/pkcs7-mime` with
    /// `Transfer-Encoding: chunked` and chunks of base64 filler as fast as
    /// the client reads, until it goes away (or [`ENDLESS_CAP`] bytes or
    /// [`STALL_LIMIT`]).
    Endless,
    /// `pending-forever`: 202 with `Retry-After: 1` (or the configured
    /// [`Faults::retry_after`](crate::Faults::retry_after)) every time.
    PendingForever,
    /// `status-NNN`: this status with a text body, like
    /// [`Faults::status`](crate::Faults::status).
    Status(u16),
    /// `garbage`, `truncated` or `oversized`: a spoiled 200 body, like
    /// [`Faults::body`](crate::Faults::body).
    Body(BodyFault),
    /// `wrong-content-type`: the answer as `text/html`.
    WrongContentType,
    /// `other-key`: a certificate for another key than the CSR's.
    OtherKey,
    /// `drop-sans`: a certificate without the CSR's SANs.
    DropSans,
    /// `echo-headers`: 500 with an HTML error page that shows every header
    /// of the request as it came, `Authorization` included (a server whose
    /// error page reflects the request).
    EchoHeaders,
}

impl EnrollFault {
    /// The kinds, as their text forms (`status-NNN` for any status).
    pub const KINDS: &'static [&'static str] = &[
        "stall-headers",
        "trickle",
        "reset",
        "huge",
        "endless",
        "pending-forever",
        "status-NNN",
        "garbage",
        "truncated",
        "oversized",
        "wrong-content-type",
        "other-key",
        "drop-sans",
        "echo-headers",
    ];

    /// The fault a CSR name selects: `Some(Ok(_))` when `name` starts with
    /// `fault-<kind>.` for a known kind, `Some(Err(_))` for an unknown kind,
    /// `None` when the name does not start with `fault-` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Result<Self, String>> {
        let name = name.to_ascii_lowercase();
        let rest = name.strip_prefix(CSR_PREFIX)?;
        let (kind, _) = rest.split_once('.')?;
        Some(kind.parse())
    }
}

impl fmt::Display for EnrollFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::StallHeaders => "stall-headers",
            Self::Trickle => "trickle",
            Self::Reset => "reset",
            Self::Huge => "huge",
            Self::Endless => "endless",
            Self::PendingForever => "pending-forever",
            Self::Status(code) => return write!(f, "status-{code}"),
            Self::Body(BodyFault::Garbage) => "garbage",
            Self::Body(BodyFault::Truncated) => "truncated",
            Self::Body(BodyFault::Oversized) => "oversized",
            Self::WrongContentType => "wrong-content-type",
            Self::OtherKey => "other-key",
            Self::DropSans => "drop-sans",
            Self::EchoHeaders => "echo-headers",
        };
        f.write_str(name)
    }
}

impl FromStr for EnrollFault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fault = match text.to_ascii_lowercase().as_str() {
            "stall-headers" => Self::StallHeaders,
            "trickle" => Self::Trickle,
            "reset" => Self::Reset,
            "huge" => Self::Huge,
            "endless" => Self::Endless,
            "pending-forever" => Self::PendingForever,
            "garbage" => Self::Body(BodyFault::Garbage),
            "truncated" => Self::Body(BodyFault::Truncated),
            "oversized" => Self::Body(BodyFault::Oversized),
            "wrong-content-type" => Self::WrongContentType,
            "other-key" => Self::OtherKey,
            "drop-sans" => Self::DropSans,
            "echo-headers" => Self::EchoHeaders,
            other => {
                let code = other
                    .strip_prefix("status-")
                    .and_then(|code| code.parse::<u16>().ok())
                    .filter(|code| (100..=999).contains(code));
                match code {
                    Some(code) => Self::Status(code),
                    None => {
                        return Err(format!(
                            "unknown fault {text:?} (known: {})",
                            Self::KINDS.join(", ")
                        ));
                    }
                }
            }
        };
        Ok(fault)
    }
}

/// The fault an enrollment body (a base64 CSR) selects by its subject CN,
/// or else its first DNS SAN. A body that is not a valid CSR selects none
/// (the enrollment then fails as usual).
pub(crate) fn from_csr(body: &[u8]) -> Option<Result<EnrollFault, String>> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = Base64::decode_vec(std::str::from_utf8(&compact).ok()?).ok()?;
    let request = CertificateSigningRequestParams::from_der(&der.into()).ok()?;
    let params = &request.params;
    let common_name = common_name_of(params);
    let first_dns = params.subject_alt_names.iter().find_map(|san| match san {
        SanType::DnsName(name) => Some(name.as_str().to_owned()),
        _ => None,
    });
    [common_name, first_dns]
        .into_iter()
        .flatten()
        .find_map(|name| EnrollFault::from_name(&name))
}

/// The subject common name (CN) of the CSR `der`, when it has a non-blank
/// one in a string type; `None` also for a CSR that cannot be read.
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    let request = CertificateSigningRequestParams::from_der(&der.to_vec().into()).ok()?;
    common_name_of(&request.params).filter(|cn| !cn.trim().is_empty())
}

fn common_name_of(params: &rcgen::CertificateParams) -> Option<String> {
    params
        .distinguished_name
        .get(&DnType::CommonName)
        .and_then(dn_text)
}

fn dn_text(value: &DnValue) -> Option<String> {
    match value {
        DnValue::Utf8String(text) => Some(text.clone()),
        DnValue::PrintableString(text) => Some(text.as_str().to_owned()),
        DnValue::Ia5String(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// What to do to an answer's body, for fault tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BodyFault {
    /// Text that is not base64 PKCS#7.
    Garbage,
    /// The right answer cut in half.
    Truncated,
    /// 2 MiB of base64 filler.
    Oversized,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_they_print() {
        for kind in EnrollFault::KINDS {
            let kind = kind.replace("NNN", "503");
            let fault: EnrollFault = kind.parse().unwrap();
            assert_eq!(fault.to_string(), kind);
        }
        assert_eq!("STALL-HEADERS".parse(), Ok(EnrollFault::StallHeaders));
        assert!("status-42".parse::<EnrollFault>().is_err());
        assert!(
            "stall"
                .parse::<EnrollFault>()
                .unwrap_err()
                .contains("known:")
        );
    }

    #[test]
    fn names_select_a_fault_by_their_first_label() {
        assert_eq!(
            EnrollFault::from_name("fault-stall-headers.example.test"),
            Some(Ok(EnrollFault::StallHeaders))
        );
        assert_eq!(
            EnrollFault::from_name("Fault-Status-500.example.test"),
            Some(Ok(EnrollFault::Status(500)))
        );
        assert!(matches!(
            EnrollFault::from_name("fault-nonsense.example.test"),
            Some(Err(_))
        ));
        assert_eq!(EnrollFault::from_name("fault-trickle"), None);
        assert_eq!(EnrollFault::from_name("www.example.test"), None);
        assert_eq!(EnrollFault::from_name("default-trickle.example"), None);
    }
}
