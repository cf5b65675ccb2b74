//! Text that comes from outside (the EST server, the API's caller, the
//! configuration) made safe to put into errors and logs: every such piece
//! of text reaches them as a [`SafeText`].

use core::fmt;

/// Outside text, sanitised: control characters (line breaks, escape
/// sequences, NUL) became spaces, surrounding white space is trimmed, and
/// it holds at most the number of characters it was made with (a cut is
/// marked with `…`). It can only be made through [`SafeText::new`] or
/// [`SafeText::lossy`], so holding one means the text was cleaned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeText(String);

impl SafeText {
    /// `text`, cleaned and cut to at most `max` characters.
    pub fn new(text: &str, max: usize) -> Self {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect();
        if text.chars().nth(max).is_some() {
            out.push('…');
        }
        Self(out.trim().to_owned())
    }

    /// Bytes that should be text (invalid UTF-8 becomes U+FFFD), cleaned
    /// and cut to at most `max` characters.
    pub fn lossy(bytes: &[u8], max: usize) -> Self {
        // Never more than 4 bytes a character: decode only what can show.
        let shown = &bytes[..bytes.len().min(max.saturating_mul(4).saturating_add(4))];
        let mut text = Self::new(&String::from_utf8_lossy(shown), max);
        if shown.len() < bytes.len() && !text.0.ends_with('…') {
            text.0.push('…');
        }
        text
    }

    /// The cleaned text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_and_long_text_is_cut() {
        assert_eq!(SafeText::new("a\r\nb\x1b[31m", 100).as_str(), "a  b [31m");
        assert_eq!(SafeText::new("abcdef", 3).as_str(), "abc…");
        assert_eq!(SafeText::new("abc", 3).as_str(), "abc");
        assert_eq!(SafeText::new("  padded  ", 100).as_str(), "padded");
        assert!(SafeText::new("\0\u{7}", 10).is_empty());
    }

    #[test]
    fn bytes_are_read_lossily_and_only_as_far_as_they_show() {
        let long = vec![b'x'; 1 << 20];
        let text = SafeText::lossy(&long, 10);
        assert_eq!(text.as_str(), "xxxxxxxxxx…");
        assert_eq!(SafeText::lossy(b"ok\xff\n", 10).as_str(), "ok\u{fffd}");
    }
}
