//! Distinguished names as RFC 4514 text, for messages.
//!
//! `x509-cert` can print names too, but through `const-oid`'s database of
//! every registered OID name, which would add tens of kilobytes to the
//! component; messages need only the common attribute types, and show any
//! other as its dotted OID.

use der::asn1::{Any, Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

const SHORT_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
];

/// `name` as RFC 4514 text: most specific RDN first, `,` between RDNs,
/// `+` between the attributes of one RDN.
pub fn to_string(name: &Name) -> String {
    let mut rdns: Vec<String> = name
        .as_ref()
        .iter()
        .map(|rdn| {
            rdn.as_ref()
                .iter()
                .map(attribute)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

fn attribute(atv: &AttributeTypeAndValue) -> String {
    let oid = atv.oid.to_string();
    let key = SHORT_NAMES
        .iter()
        .find(|(dotted, _)| *dotted == oid)
        .map_or(oid.as_str(), |(_, short)| short);
    let value = &atv.value;
    match text(value) {
        Some(text) => format!("{key}={}", escape(&text)),
        None => format!(
            "{key}=#{}",
            value
                .value()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    }
}

/// An attribute value as text, when it is one of the string types names
/// use (UTF8String, PrintableString, IA5String, TeletexString).
pub fn text(value: &Any) -> Option<String> {
    let bytes = value.value();
    let text = match value.tag() {
        Tag::Utf8String => Utf8StringRef::new(bytes).ok()?.as_str(),
        Tag::PrintableString => PrintableStringRef::new(bytes).ok()?.as_str(),
        Tag::Ia5String => Ia5StringRef::new(bytes).ok()?.as_str(),
        Tag::TeletexString => TeletexStringRef::new(bytes).ok()?.as_str(),
        _ => return None,
    };
    Some(text.to_owned())
}

/// RFC 4514 §2.4 escaping.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c.is_control() {
            out.push_str(&format!("\\{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn names_read_like_rfc_4514() {
        let cert = x509_cert::Certificate::from_der(
            &crate::testutil::TestCa::new("Dn, \"quoted\"").root_der(),
        )
        .unwrap();
        assert_eq!(
            to_string(cert.tbs_certificate().subject()),
            "CN=Dn\\, \\\"quoted\\\" Root"
        );
        let vector = include_bytes!("../../tests/data/acme2certifier/certs_der.p7b");
        let certs = crate::est::pkcs7::decode_certs_only(vector).unwrap();
        assert_eq!(
            to_string(certs[0].tbs_certificate().subject()),
            "CN=sub-ca,OU=acme2certifier"
        );
        assert_eq!(
            to_string(certs[0].tbs_certificate().subject()),
            certs[0].tbs_certificate().subject().to_string()
        );
        assert_eq!(escape(" #lead"), "\\ #lead");
        assert_eq!(escape("trail "), "trail\\ ");
    }
}
