//! Text encodings shared by the data path: base64 in its forms, PEM armour,
//! and the 64-column line wrapping that EST and OpenSSL use.
//!
//! Base64 here carries certificates and requests, which are public, so it
//! uses the table-driven `base64` crate: the constant-time `base64ct` was
//! most of the CPU time of decoding an EST answer.

use crate::text::SafeText;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Why a text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is empty.
    Empty,
    /// Not valid base64 (standard or URL-safe alphabet).
    Base64,
    /// A `-----BEGIN x-----` block without its matching end line (the
    /// label as found, cleaned: it comes from outside).
    UnterminatedPem(SafeText),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::Base64 => f.write_str("it is not valid base64"),
            Self::UnterminatedPem(label) => {
                write!(f, "its \"-----BEGIN {label}-----\" block has no end line")
            }
        }
    }
}

/// What a byte is to base64 text: not allowed, a character of both
/// alphabets (or padding), one of the URL-safe alphabet only, or white
/// space. One table lookup a byte: these loops run over every byte of
/// every EST answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Invalid,
    Common,
    UrlSafe,
    Space,
}

const CLASSES: [Class; 256] = {
    let mut table = [Class::Invalid; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => Class::Common,
            b'-' | b'_' => Class::UrlSafe,
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => Class::Space,
            _ => Class::Invalid,
        };
        b += 1;
    }
    table
};

fn class(byte: u8) -> Class {
    CLASSES[usize::from(byte)]
}

/// Decodes base64 in either alphabet (standard or URL-safe), with or without
/// padding, ignoring white space and line breaks anywhere in the text.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    // One pass: drop white space a run at a time, and note the alphabet.
    let mut compact = Vec::with_capacity(text.len());
    let mut url_safe = false;
    let mut run = 0;
    for (at, &byte) in text.iter().enumerate() {
        match class(byte) {
            Class::Space => {
                compact.extend_from_slice(&text[run..at]);
                run = at + 1;
            }
            Class::UrlSafe => url_safe = true,
            Class::Common | Class::Invalid => {}
        }
    }
    compact.extend_from_slice(&text[run..]);
    let unpadded = compact
        .strip_suffix(b"==")
        .or_else(|| compact.strip_suffix(b"="))
        .unwrap_or(&compact);
    if unpadded.is_empty() {
        return Err(DecodeError::Empty);
    }
    let engine = if url_safe {
        &URL_SAFE_NO_PAD
    } else {
        &STANDARD_NO_PAD
    };
    engine.decode(unpadded).map_err(|_| DecodeError::Base64)
}

/// True when `text` looks like base64 text: only base64 characters (either
/// alphabet), padding and white space.
pub fn is_base64_text(text: &[u8]) -> bool {
    text.iter().all(|&byte| class(byte) != Class::Invalid)
}

/// If `text` holds a PEM block, returns its label and decoded contents.
/// Returns `Ok(None)` when there is no `-----BEGIN` line at all. Headers
/// (RFC 1421 `Name: value` lines) and surrounding text are ignored.
pub fn decode_pem(text: &[u8]) -> Result<Option<(String, Vec<u8>)>, DecodeError> {
    let text = String::from_utf8_lossy(text);
    let Some(start) = text.find("-----BEGIN ") else {
        return Ok(None);
    };
    let after = &text[start + "-----BEGIN ".len()..];
    let Some(label_end) = after.find("-----") else {
        return Err(DecodeError::UnterminatedPem(SafeText::default()));
    };
    let label = after[..label_end].trim().to_owned();
    let body = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let Some(end) = body.find(&end_marker) else {
        return Err(DecodeError::UnterminatedPem(SafeText::new(&label, 40)));
    };
    let base64: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .collect();
    Ok(Some((label, decode_base64(base64.as_bytes())?)))
}

/// Standard base64 of `der` on one line, padded (acme2certifier's `cert_raw`).
pub fn base64_line(der: &[u8]) -> String {
    STANDARD.encode(der)
}

/// Standard base64 of `der` in 64-column lines, each ending with `\n`
/// (the body of an EST request, and the body of a PEM block).
pub fn base64_lines(der: &[u8]) -> String {
    let flat = STANDARD.encode(der);
    let mut out = String::with_capacity(flat.len() + flat.len() / 64 + 1);
    for chunk in flat.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A PEM block exactly as OpenSSL writes it.
pub fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}-----END {label}-----\n",
        base64_lines(der)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms_decode_alike() {
        let data: Vec<u8> = (0u8..=255).collect();
        let std = STANDARD.encode(&data);
        let url = base64::engine::general_purpose::URL_SAFE.encode(&data);
        let url_unpadded = URL_SAFE_NO_PAD.encode(&data);
        assert_ne!(std, url);
        for text in [
            std.clone(),
            url,
            url_unpadded,
            base64_lines(&data),
            std.replace('\n', "\r\n"),
        ] {
            assert_eq!(decode_base64(text.as_bytes()).unwrap(), data, "{text}");
        }
    }

    #[test]
    fn the_byte_table_is_the_base64_alphabets_padding_and_white_space() {
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric()
                || b"+/-_=".contains(&byte)
                || byte.is_ascii_whitespace();
            assert_eq!(is_base64_text(&[byte]), expected, "byte {byte:#04x}");
        }
        // White space anywhere, either alphabet, with and without padding.
        assert_eq!(decode_base64(b" TW\r\nFu\t").unwrap(), b"Man");
        assert_eq!(decode_base64(b"-_8=\n").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64(b"+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64(b" \n "), Err(DecodeError::Empty));
    }

    #[test]
    fn base64_garbage_is_an_error() {
        assert_eq!(decode_base64(b"  \n"), Err(DecodeError::Empty));
        assert_eq!(decode_base64(b"not base64!"), Err(DecodeError::Base64));
        assert_eq!(decode_base64(b"A"), Err(DecodeError::Base64));
        assert_eq!(decode_base64(&[0xff, 0xfe]), Err(DecodeError::Base64));
        // Padding in the middle, and trailing bits that do not round-trip.
        assert_eq!(decode_base64(b"QQ==QQ=="), Err(DecodeError::Base64));
        assert_eq!(decode_base64(b"QR=="), Err(DecodeError::Base64));
    }

    #[test]
    fn lines_are_64_columns_with_final_newline() {
        let text = base64_lines(&[7u8; 100]);
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            vec![64, 64, 8]
        );
        assert!(text.ends_with('\n'));
        assert_eq!(base64_lines(&[]), "");
    }

    #[test]
    fn pem_round_trips_and_reports_missing_end() {
        let block = pem("PKCS7", b"hello world");
        assert_eq!(
            decode_pem(block.as_bytes()).unwrap(),
            Some(("PKCS7".into(), b"hello world".to_vec()))
        );
        assert_eq!(decode_pem(b"no armour").unwrap(), None);
        let cut = &block[..block.len() - 20];
        assert_eq!(
            decode_pem(cut.as_bytes()),
            Err(DecodeError::UnterminatedPem(SafeText::new("PKCS7", 40)))
        );
    }

    #[test]
    fn a_hostile_pem_label_reaches_errors_cleaned_and_capped() {
        let label = format!("\x1b]0;owned\x07{}\r\nX", "L".repeat(5000));
        let text = format!("-----BEGIN {label}-----\nAAAA\n");
        let err = decode_pem(text.as_bytes()).unwrap_err().to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.chars().count() < 120, "{}", err.len());
    }
}
