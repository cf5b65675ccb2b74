//! What the checks share: the structured input format ([`Input`],
//! [`DELIMITER`]), byte searches, and the assertions every target makes
//! on text and certificates.

use est_ca_handler::est::pkcs7::ReceivedCertificate;

/// Separates the variable-length parts of a structured fuzz input.
pub const DELIMITER: &[u8] = b"\n--\n";

/// A structured input: `HEAD` selector bytes (zero when the input is
/// shorter), then parts separated by [`DELIMITER`] (empty once used up).
pub(crate) struct Input<'a, const HEAD: usize> {
    head: [u8; HEAD],
    parts: std::vec::IntoIter<&'a [u8]>,
}

impl<'a, const HEAD: usize> Input<'a, HEAD> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        let mut head = [0u8; HEAD];
        let n = data.len().min(HEAD);
        head[..n].copy_from_slice(&data[..n]);
        let rest = &data[n..];
        Self {
            head,
            parts: split(rest, DELIMITER).into_iter(),
        }
    }

    /// Selector byte `i`.
    pub(crate) fn byte(&self, i: usize) -> u8 {
        self.head[i]
    }

    /// The next part, or an empty one.
    pub(crate) fn part(&mut self) -> &'a [u8] {
        self.parts.next().unwrap_or_default()
    }

    /// The next part as text (invalid UTF-8 replaced).
    pub(crate) fn text(&mut self) -> String {
        String::from_utf8_lossy(self.part()).into_owned()
    }

    /// Whether every part has been taken.
    pub(crate) fn is_done(&self) -> bool {
        self.parts.len() == 0
    }
}

/// `data` cut at every `delimiter`.
pub(crate) fn split<'a>(data: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = find(rest, delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.push(rest);
    parts
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where `needle` first occurs in `haystack` at or after `from`.
pub(crate) fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    find(haystack.get(from..)?, needle).map(|at| from + at)
}

/// Asserts that `text`, which outside input reached, is fit for an error
/// message or a log: no control character and at most `max` characters.
#[track_caller]
pub(crate) fn assert_clean(what: &str, text: &str, max: usize) {
    assert!(
        !text.chars().any(char::is_control),
        "{what} holds a control character: {text:?}"
    );
    let len = text.chars().count();
    assert!(
        len <= max,
        "{what} is {len} characters long (at most {max}): {text:?}"
    );
}

/// Asserts that `text` does not contain `secret`.
#[track_caller]
pub(crate) fn assert_hidden(what: &str, text: &str, secret: &str) {
    assert!(
        secret.is_empty() || !text.contains(secret),
        "{what} shows a secret value"
    );
}

/// The bytes a certs-only answer body decodes to before the PKCS#7 is
/// read, by the same rules as [`est_ca_handler::est::pkcs7::decode_certs_only`]
/// (PEM armour, else base64 text, else the bytes themselves); `None` when
/// that decoding fails.
pub(crate) fn answer_bytes(body: &[u8]) -> Option<Vec<u8>> {
    use est_ca_handler::encoding;
    let trimmed = body.trim_ascii();
    if trimmed.starts_with(b"-----BEGIN") {
        match encoding::decode_pem(trimmed) {
            Ok(Some((_, der))) => Some(der),
            _ => None,
        }
    } else if encoding::is_base64_text(trimmed) {
        encoding::decode_base64(trimmed).ok()
    } else {
        Some(trimmed.to_vec())
    }
}

/// Asserts that `certs` are byte ranges of `source`, in order and without
/// overlap, and that each decodes again to the same certificate.
#[track_caller]
pub(crate) fn assert_certificates_from(certs: &[ReceivedCertificate], source: &[u8]) {
    let mut from = 0;
    for (i, cert) in certs.iter().enumerate() {
        let der = cert.der();
        let at = find_from(source, der, from).unwrap_or_else(|| {
            panic!(
                "certificate {i} ({} bytes) is not a byte range of the decoded answer after offset {from}",
                der.len()
            )
        });
        from = at + der.len();
        let again = ReceivedCertificate::from_der(der.to_vec())
            .unwrap_or_else(|e| panic!("certificate {i} does not decode again: {e}"));
        assert_eq!(&again, cert, "certificate {i} decodes differently again");
    }
}
