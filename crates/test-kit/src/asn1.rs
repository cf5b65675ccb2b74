//! DER built by hand, for messages the handler must read whatever order
//! or shape a server gives them.

/// A DER TLV: `tag`, the definite length of `content` (short or long
/// form), `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER-shaped certs-only SignedData (RFC 5652 `ContentInfo`, version 1,
/// no digest algorithms, no signers) holding `certs` in exactly this
/// order: a real encoder would sort them as a DER `SET OF`; servers in the
/// field do not all.
pub fn certs_only(certs: &[&[u8]]) -> Vec<u8> {
    /// `id-signedData` (1.2.840.113549.1.7.2) as a DER OID.
    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    /// `id-data` (1.2.840.113549.1.7.1) as a DER OID.
    const DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let mut inner = vec![0x02, 0x01, 0x01]; // version 1
    inner.extend(tlv(0x31, &[])); // digestAlgorithms
    inner.extend(tlv(0x30, DATA)); // encapContentInfo
    inner.extend(tlv(0xa0, &certs.concat())); // [0] IMPLICIT certificates
    inner.extend(tlv(0x31, &[])); // signerInfos
    let mut info = SIGNED_DATA.to_vec();
    info.extend(tlv(0xa0, &tlv(0x30, &inner)));
    tlv(0x30, &info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_short_and_long_forms() {
        assert_eq!(tlv(0x04, b"ab"), [0x04, 2, b'a', b'b']);
        assert_eq!(tlv(0x04, &[0; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
        assert_eq!(tlv(0x04, &[0; 0x1234]).len(), 4 + 0x1234);
    }

    #[test]
    fn certs_only_keeps_the_certificates_as_given() {
        let (a, b) = (tlv(0x30, b"first"), tlv(0x30, b"second"));
        let message = certs_only(&[&b, &a]);
        let at = |needle: &[u8]| message.windows(needle.len()).position(|w| w == needle);
        assert!(at(&b).unwrap() < at(&a).unwrap());
        assert_eq!(message[0], 0x30);
        assert_eq!(usize::from(message[1]), message.len() - 2);
    }
}
