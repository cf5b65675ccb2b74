//! The names a CSR asks for and the names a certificate carries: subject
//! common names, and DNS and IP subject alternative names. The handler
//! compares them after issuance, because some EST servers drop the CSR's
//! extensions (and so its SANs) without saying so.

use der::Decode;
use der::asn1::ObjectIdentifier;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, ExtensionReq};

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// PKCS#9 extensionRequest, the CSR attribute that carries extensions.
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

/// One name, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameValue {
    /// A DNS name (or other CN text): ASCII lower case, no trailing dot.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl NameValue {
    /// A DNS SAN or a CN's text; a CN that is an IP address literal counts
    /// as that address.
    fn from_text(text: &str) -> Self {
        let text = text.trim();
        match text.parse::<IpAddr>() {
            Ok(ip) => Self::Ip(ip),
            Err(_) => Self::Dns(text.trim_end_matches('.').to_ascii_lowercase()),
        }
    }

    fn from_ip_octets(octets: &[u8]) -> Option<Self> {
        match octets.len() {
            4 => <[u8; 4]>::try_from(octets).ok().map(|o| Self::Ip(o.into())),
            16 => <[u8; 16]>::try_from(octets)
                .ok()
                .map(|o| Self::Ip(o.into())),
            _ => None,
        }
    }
}

impl fmt::Display for NameValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => write!(f, "{}", crate::text::SafeText::new(name, 256)),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The set of names of a request or a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(BTreeSet<NameValue>);

impl Names {
    /// The names a CSR asks for: its subject CNs and the DNS and IP names
    /// of a subjectAltName in its extensionRequest. Fails, naming the
    /// problem, when that attribute or extension cannot be decoded.
    pub fn of_request(request: &CertReq) -> Result<Self, String> {
        let mut names = common_names(&request.info.subject);
        for attribute in request.info.attributes.iter() {
            if attribute.oid != EXTENSION_REQUEST {
                continue;
            }
            for value in attribute.values.iter() {
                let extensions = value
                    .decode_as::<ExtensionReq>()
                    .map_err(|e| format!("its extensionRequest attribute is malformed: {e}"))?;
                names.add_alt_names(&extensions.0)?;
            }
        }
        Ok(names)
    }

    /// The names a certificate carries: its subject CNs and the DNS and IP
    /// names of its subjectAltName extension.
    pub fn of_certificate(cert: &Certificate) -> Result<Self, String> {
        let tbs = cert.tbs_certificate();
        let mut names = common_names(tbs.subject());
        if let Some(extensions) = tbs.extensions() {
            names.add_alt_names(extensions)?;
        }
        Ok(names)
    }

    fn add_alt_names(&mut self, extensions: &[Extension]) -> Result<(), String> {
        for extension in extensions.iter().filter(|e| e.extn_id == SUBJECT_ALT_NAME) {
            let alt_names = SubjectAltName::from_der(extension.extn_value.as_bytes())
                .map_err(|e| format!("its subjectAltName extension is malformed: {e}"))?;
            for name in alt_names.0 {
                match name {
                    GeneralName::DnsName(dns) => {
                        self.0.insert(NameValue::from_text(dns.as_str()));
                    }
                    GeneralName::IpAddress(octets) => {
                        let ip = NameValue::from_ip_octets(octets.as_bytes()).ok_or_else(|| {
                            format!(
                                "its subjectAltName holds an IP address of {} bytes",
                                octets.as_bytes().len()
                            )
                        })?;
                        self.0.insert(ip);
                    }
                    // E-mail, URI and other names are outside what ACME orders.
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The names of `self` that `issued` does not carry, in order.
    pub fn missing_from(&self, issued: &Names) -> Vec<NameValue> {
        self.0.difference(&issued.0).cloned().collect()
    }

    /// True when there is no name at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn common_names(subject: &Name) -> Names {
    let mut names = Names::default();
    for rdn in subject.as_ref().iter() {
        for atv in rdn.as_ref().iter().filter(|atv| atv.oid == COMMON_NAME) {
            if let Some(text) = crate::x509::dn::text(&atv.value) {
                names.0.insert(NameValue::from_text(&text));
            }
        }
    }
    names
}

/// The names listed for a message: `a.example, 192.0.2.1`.
pub fn list(names: &[NameValue]) -> String {
    names
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TestCa, make_csr_with};

    fn dns(name: &str) -> NameValue {
        NameValue::Dns(name.into())
    }

    #[test]
    fn request_names_are_cn_and_sans_normalised() {
        let csr = make_csr_with(
            "Www.Example.TEST",
            &[
                "www.example.test.",
                "API.example.test",
                "192.0.2.7",
                "2001:db8::1",
            ],
        );
        let request = CertReq::from_der(&csr).unwrap();
        let names = Names::of_request(&request).unwrap();
        let expected: BTreeSet<NameValue> = [
            dns("www.example.test"),
            dns("api.example.test"),
            NameValue::Ip("192.0.2.7".parse().unwrap()),
            NameValue::Ip("2001:db8::1".parse().unwrap()),
        ]
        .into();
        assert_eq!(names.0, expected);
    }

    #[test]
    fn an_issued_certificate_without_the_sans_misses_them() {
        let ca = TestCa::new("Names");
        let csr = make_csr_with(
            "a.example.test",
            &["a.example.test", "b.example.test", "198.51.100.9"],
        );
        let request = CertReq::from_der(&csr).unwrap();
        let requested = Names::of_request(&request).unwrap();

        let full = Certificate::from_der(&ca.issue(&csr)).unwrap();
        assert!(
            requested
                .missing_from(&Names::of_certificate(&full).unwrap())
                .is_empty()
        );

        let cn_only = Certificate::from_der(&ca.issue_without_sans(&csr)).unwrap();
        let missing = requested.missing_from(&Names::of_certificate(&cn_only).unwrap());
        assert_eq!(
            missing,
            vec![
                dns("b.example.test"),
                NameValue::Ip("198.51.100.9".parse().unwrap())
            ]
        );
        assert_eq!(list(&missing), "b.example.test, 198.51.100.9");
    }

    #[test]
    fn ip_octets_of_odd_length_are_not_addresses() {
        assert_eq!(NameValue::from_ip_octets(&[10, 0, 0]), None);
        assert_eq!(
            NameValue::from_ip_octets(&[10, 0, 0, 1]),
            Some(NameValue::Ip("10.0.0.1".parse().unwrap()))
        );
    }
}
