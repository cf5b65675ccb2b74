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
    /// Every kind of fault, once: [`EnrollFault::Status`] stands for all
    /// statuses as `Status(503)`. Tests and help texts iterate this list;
    /// [`EnrollFault::index`] makes the compiler insist that a new variant
    /// joins it.
    pub const ALL: &'static [EnrollFault] = &[
        Self::StallHeaders,
        Self::Trickle,
        Self::Reset,
        Self::Huge,
        Self::Endless,
        Self::PendingForever,
        Self::Status(503),
        Self::Body(BodyFault::Garbage),
        Self::Body(BodyFault::Truncated),
        Self::Body(BodyFault::Oversized),
        Self::WrongContentType,
        Self::OtherKey,
        Self::DropSans,
        Self::EchoHeaders,
    ];

    /// This fault's place in [`EnrollFault::ALL`] (every status at that of
    /// `Status(503)`). The match names every variant, so a new one does not
    /// compile until it has a place.
    pub const fn index(self) -> usize {
        match self {
            Self::StallHeaders => 0,
            Self::Trickle => 1,
            Self::Reset => 2,
            Self::Huge => 3,
            Self::Endless => 4,
            Self::PendingForever => 5,
            Self::Status(_) => 6,
            Self::Body(BodyFault::Garbage) => 7,
            Self::Body(BodyFault::Truncated) => 8,
            Self::Body(BodyFault::Oversized) => 9,
            Self::WrongContentType => 10,
            Self::OtherKey => 11,
            Self::DropSans => 12,
            Self::EchoHeaders => 13,
        }
    }

    /// Whether the fault breaks the exchange itself (an answer that stalls,
    /// trickles, breaks off, is too large, never ends or never stops being
    /// pending), rather than answering in full with wrong content.
    pub const fn breaks_the_exchange(self) -> bool {
        matches!(
            self,
            Self::StallHeaders
                | Self::Trickle
                | Self::Reset
                | Self::Huge
                | Self::Endless
                | Self::PendingForever
        )
    }

    /// The kind's text form as `--fault` takes it: `status-NNN` for
    /// [`EnrollFault::Status`], else the fault's own text form.
    pub fn kind(self) -> String {
        match self {
            Self::Status(_) => "status-NNN".to_owned(),
            other => other.to_string(),
        }
    }

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
        let text_lower = text.to_ascii_lowercase();
        if let Some(&fault) = Self::ALL
            .iter()
            .find(|fault| !matches!(fault, Self::Status(_)) && fault.to_string() == text_lower)
        {
            return Ok(fault);
        }
        text_lower
            .strip_prefix("status-")
            .and_then(|code| code.parse::<u16>().ok())
            .filter(|code| (100..=999).contains(code))
            .map(Self::Status)
            .ok_or_else(|| {
                let known: Vec<String> = Self::ALL.iter().map(|f| f.kind()).collect();
                format!("unknown fault {text:?} (known: {})", known.join(", "))
            })
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
    fn every_fault_has_its_place_in_all() {
        for (i, fault) in EnrollFault::ALL.iter().enumerate() {
            assert_eq!(fault.index(), i, "{fault}");
        }
        assert_eq!(
            EnrollFault::Status(418).index(),
            EnrollFault::Status(503).index()
        );
        let kinds: std::collections::HashSet<String> =
            EnrollFault::ALL.iter().map(|f| f.kind()).collect();
        assert_eq!(kinds.len(), EnrollFault::ALL.len(), "kinds are distinct");
    }

    #[test]
    fn kinds_read_back_as_they_print() {
        for fault in EnrollFault::ALL {
            let text = fault.to_string();
            assert_eq!(text.parse::<EnrollFault>(), Ok(*fault), "{text}");
        }
        assert_eq!("status-418".parse(), Ok(EnrollFault::Status(418)));
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
