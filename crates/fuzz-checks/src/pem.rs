//! The PEM and base64 decoders ([`decode_pem`], [`decode_base64`]).

use crate::support::assert_clean;
use est_ca_handler::encoding::{self, decode_base64, decode_pem};
use est_ca_handler::text::SafeText;

/// Target `pem`: `data` is any text.
///
/// Checks: [`decode_pem`] does not panic; its error text is free of
/// control characters and at most 120 characters; `Ok(None)` only without
/// a `-----BEGIN ` line; a label is the trimmed text between the markers,
/// without `-----`, shown cleaned in messages, and (unless it ends with a
/// hyphen, which RFC 7468 labels never do) the block is found again after
/// re-armouring (same label, same bytes); [`decode_base64`]
/// accepts only base64 text and its bytes come back from
/// [`encoding::base64_lines`].
pub fn pem(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match decode_pem(data) {
        Err(e) => assert_clean("the PEM error", &e.to_string(), 120),
        Ok(None) => assert!(!text.contains("-----BEGIN "), "a BEGIN line was missed"),
        Ok(Some((label, der))) => {
            assert_eq!(label, label.trim(), "the label is not trimmed");
            assert!(!label.contains("-----"), "the label holds -----: {label:?}");
            assert!(
                text.contains(&format!("-----END {label}-----")),
                "no end line for {label:?}"
            );
            assert_clean("a shown label", SafeText::new(&label, 40).as_str(), 41);
            assert!(!der.is_empty(), "a PEM block decoded to nothing");
            // RFC 7468 labels do not end with a hyphen; one that does (left
            // when white space before "-----" is trimmed) runs into the
            // armour's dashes when written again.
            if !label.ends_with('-') {
                let again = decode_pem(encoding::pem(&label, &der).as_bytes());
                assert_eq!(again, Ok(Some((label, der))), "re-armoured block differs");
            }
        }
    }
    if let Ok(bytes) = decode_base64(data) {
        assert!(
            encoding::is_base64_text(data),
            "decoded as base64 but not base64 text"
        );
        assert!(!bytes.is_empty(), "base64 decoded to nothing");
        let lines = encoding::base64_lines(&bytes);
        assert_eq!(decode_base64(lines.as_bytes()), Ok(bytes.clone()));
        assert_eq!(
            decode_base64(encoding::base64_line(&bytes).as_bytes()),
            Ok(bytes)
        );
    }
}
