//! The names a CSR asks for and the names a certificate carries: subject
//! common names, and DNS and IP subject alternative names. The handler
//! compares them after issuance, because some EST servers drop the CSR's
//! extensions (and so its SANs) without saying so.

use crate::x509::tlv::{Fields, context};
use der::asn1::{AnyRef, Ia5StringRef, ObjectIdentifier};
use der::{Tag, Tagged};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, ExtensionReq};

/// Why the names of a request or a certificate cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamesError {
    /// An extensionRequest attribute that is not a list of extensions.
    ExtensionRequest(der::Error),
    /// A subjectAltName extension that is not a `GeneralNames`.
    SubjectAltName(der::Error),
    /// An iPAddress name that is neither 4 nor 16 bytes long (its length).
    IpAddressLength(usize),
}

impl fmt::Display for NamesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExtensionRequest(e) => {
                write!(f, "its extensionRequest attribute is malformed: {e}")
            }
            Self::SubjectAltName(e) => write!(f, "its subjectAltName extension is malformed: {e}"),
            Self::IpAddressLength(octets) => {
                write!(
                    f,
                    "its subjectAltName holds an IP address of {octets} bytes"
                )
            }
        }
    }
}

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// PKCS#9 extensionRequest, the CSR attribute that carries extensions.
pub(crate) const EXTENSION_REQUEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
/// `GeneralName`'s `dNSName [2] IA5String`.
const DNS_NAME: Tag = context(2, false);
/// `GeneralName`'s `iPAddress [7] OCTET STRING`.
const IP_ADDRESS: Tag = context(7, false);
/// The tags of `GeneralName`'s other choices: otherName, rfc822Name,
/// x400Address, directoryName, ediPartyName, uniformResourceIdentifier,
/// registeredID.
const OTHER_NAME_TAGS: [Tag; 7] = [
    context(0, true),
    context(1, false),
    context(3, true),
    context(4, true),
    context(5, true),
    context(6, false),
    context(8, false),
];

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
    pub fn of_request(request: &CertReq) -> Result<Self, NamesError> {
        let extension_requests: Vec<AnyRef<'_>> = request
            .info
            .attributes
            .iter()
            .filter(|attribute| attribute.oid == EXTENSION_REQUEST)
            .flat_map(|attribute| attribute.values.iter().map(AnyRef::from))
            .collect();
        Self::of_request_parts(&request.info.subject, &extension_requests)
    }

    /// [`Names::of_request`] from a request's subject and the values of
    /// its extensionRequest attributes.
    pub(crate) fn of_request_parts(
        subject: &Name,
        extension_requests: &[AnyRef<'_>],
    ) -> Result<Self, NamesError> {
        let mut names = common_names(subject);
        for value in extension_requests {
            let extensions = value
                .decode_as::<ExtensionReq>()
                .map_err(NamesError::ExtensionRequest)?;
            names.add_alt_names(&extensions.0)?;
        }
        Ok(names)
    }

    /// The names a certificate carries: its subject CNs and the DNS and IP
    /// names of its subjectAltName extension.
    pub fn of_certificate(cert: &Certificate) -> Result<Self, NamesError> {
        let tbs = cert.tbs_certificate();
        let mut names = common_names(tbs.subject());
        if let Some(extensions) = tbs.extensions() {
            names.add_alt_names(extensions)?;
        }
        Ok(names)
    }

    fn add_alt_names(&mut self, extensions: &[Extension]) -> Result<(), NamesError> {
        for extension in extensions.iter().filter(|e| e.extn_id == SUBJECT_ALT_NAME) {
            self.add_general_names(extension.extn_value.as_bytes())
                .map_err(NamesError::SubjectAltName)?
                .map_err(NamesError::IpAddressLength)?;
        }
        Ok(())
    }

    /// Adds the DNS and IP names of a DER `GeneralNames` (RFC 5280
    /// §4.2.1.6); each other name must carry one of the other choices'
    /// tags. The inner error is the length of an IP address that is none.
    fn add_general_names(&mut self, der: &[u8]) -> der::Result<Result<(), usize>> {
        let mut names = Fields::of_der(der, Tag::Sequence)?;
        while !names.is_empty() {
            let name = names.next_any()?;
            match name.tag() {
                DNS_NAME => {
                    let dns = Ia5StringRef::new(name.value())?;
                    self.0.insert(NameValue::from_text(dns.as_str()));
                }
                IP_ADDRESS => match NameValue::from_ip_octets(name.value()) {
                    Some(ip) => {
                        self.0.insert(ip);
                    }
                    None => return Ok(Err(name.value().len())),
                },
                // E-mail, URI and other names are outside what ACME orders.
                tag if OTHER_NAME_TAGS.contains(&tag) => {}
                tag => return Err(tag.unexpected_error(None).into()),
            }
        }
        Ok(Ok(()))
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
    use der::Decode;

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
    fn general_names_give_their_dns_and_ip_names_and_keep_their_tags() {
        let tlv = |tag: u8, content: &[u8]| [&[tag, content.len() as u8][..], content].concat();
        let general_names = |names: &[Vec<u8>]| tlv(0x30, &names.concat());
        let mut names = Names::default();
        let der = general_names(&[
            tlv(0x81, b"a@b.test"),
            tlv(0x82, b"X.Example."),
            tlv(0x86, b"https://u.test/"),
            tlv(0x87, &[192, 0, 2, 1]),
            tlv(0xa4, &tlv(0x30, &[])),
        ]);
        assert_eq!(names.add_general_names(&der), Ok(Ok(())));
        let expected: BTreeSet<NameValue> = [
            dns("x.example"),
            NameValue::Ip("192.0.2.1".parse().unwrap()),
        ]
        .into();
        assert_eq!(names.0, expected);
        // An IP address of 3 bytes, a universal tag, a dNSName that is not
        // IA5 text, a constructed dNSName, trailing bytes.
        assert_eq!(
            names.add_general_names(&general_names(&[tlv(0x87, &[10, 0, 0])])),
            Ok(Err(3))
        );
        for bad in [
            general_names(&[tlv(0x04, b"x")]),
            general_names(&[tlv(0x82, "é".as_bytes())]),
            general_names(&[tlv(0xa2, &tlv(0x16, b"x"))]),
            [general_names(&[tlv(0x82, b"x")]), vec![0]].concat(),
        ] {
            assert!(names.add_general_names(&bad).is_err(), "{bad:02x?}");
        }
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
