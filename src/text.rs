//! Text that comes from outside (the EST server, the API's caller, the
//! configuration) made safe to put into errors and logs: every such piece
//! of text reaches them as a [`SafeText`]. Text that can echo what the
//! handler sent (the EST server's words) is made one through
//! [`SafeText::redacted`] or [`SafeText::lossy_redacted`], which first take
//! the handler's own secrets out of it ([`Redactions`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use core::fmt;
use std::borrow::Cow;

/// What a secret becomes in outside text.
pub const REDACTED: &str = "[redacted]";

/// The handler's own secrets (passwords, the Basic credentials as sent,
/// tokens, passphrases), in the forms outside text may echo them: as they
/// are, percent-encoded, HTML-escaped and, for passwords, base64. Its
/// `Debug` output shows only how many there are.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redactions {
    /// Every form, each non-empty.
    needles: Vec<String>,
}

impl fmt::Debug for Redactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactions({} forms)", self.needles.len())
    }
}

impl Redactions {
    /// The shortest secret taken out of outside text, in characters: a
    /// shorter one would blank ordinary words (a 1-character password,
    /// every occurrence of that character). The Basic credentials as sent
    /// are taken out whatever their length.
    pub const MIN_SECRET_LEN: usize = 4;

    /// Adds a secret (a password, token or passphrase) in its echoed forms,
    /// when it has at least [`Self::MIN_SECRET_LEN`] characters.
    pub fn add_secret(&mut self, secret: &str) {
        if secret.chars().count() >= Self::MIN_SECRET_LEN {
            self.add_forms(secret);
        }
    }

    /// Adds HTTP Basic credentials: the `Authorization` value's base64 (also
    /// without its padding, as echoes trim it) always, and the password
    /// alone, `user:password` and the password's own base64 as secrets.
    pub fn add_basic(&mut self, user: &str, password: &str) {
        let credentials = STANDARD.encode(format!("{user}:{password}").as_bytes());
        self.add_forms(credentials.trim_end_matches('='));
        self.add_secret(&format!("{user}:{password}"));
        self.add_secret(password);
        if password.chars().count() >= Self::MIN_SECRET_LEN {
            let alone = STANDARD.encode(password.as_bytes());
            self.add_forms(alone.trim_end_matches('='));
        }
    }

    /// `value`, its percent-encoded forms (upper and lower case hex) and
    /// its HTML-escaped forms.
    fn add_forms(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut forms = vec![value.to_owned()];
        let upper = percent_encode(value);
        forms.push(upper.to_ascii_lowercase());
        forms.push(upper);
        forms.push(html_escape(value, "&#39;"));
        forms.push(html_escape(value, "&#x27;"));
        for form in forms {
            if !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
    }

    /// Whether there is nothing to take out.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every occurrence of a secret (in any form added)
    /// replaced by [`REDACTED`]; overlapping occurrences become one.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // Which bytes some secret covers: runs of them become one mark.
        let mut covered: Vec<bool> = Vec::new();
        for needle in &self.needles {
            for (at, found) in text.match_indices(needle.as_str()) {
                if covered.is_empty() {
                    covered = vec![false; text.len()];
                }
                covered[at..at + found.len()].fill(true);
            }
        }
        if covered.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while at < text.len() {
            let secret = covered[at];
            let run = covered[at..]
                .iter()
                .position(|&c| c != secret)
                .map_or(text.len(), |n| at + n);
            // Matches begin and end on character boundaries, so runs do.
            if secret {
                out.push_str(REDACTED);
            } else {
                out.push_str(&text[at..run]);
            }
            at = run;
        }
        Cow::Owned(out)
    }

    /// [`Self::apply`] to `text` in place.
    pub fn apply_to(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.apply(text) {
            *text = clean;
        }
    }

    /// The longest a text's end may be the beginning of a secret: the
    /// number of bytes of `text`'s end that are a proper beginning of one.
    fn partial_at_end(&self, text: &str) -> usize {
        self.needles
            .iter()
            .filter_map(|needle| {
                (1..needle.len())
                    .rev()
                    .find(|&k| needle.is_char_boundary(k) && text.ends_with(&needle[..k]))
            })
            .max()
            .unwrap_or(0)
    }

    /// The longest form, in bytes.
    fn longest(&self) -> usize {
        self.needles.iter().map(String::len).max().unwrap_or(0)
    }
}

/// Percent-encoding of every byte but RFC 3986's unreserved ones, in
/// upper-case hex.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// HTML escaping of `&`, `<`, `>`, `"` and `'` (as `apostrophe`).
fn html_escape(value: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

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

    /// Takes the handler's secrets out of this text (see [`Redactions`]):
    /// for a text made before they were known.
    pub fn redact(&mut self, secrets: &Redactions) {
        secrets.apply_to(&mut self.0);
    }

    /// Bytes that should be text (invalid UTF-8 becomes U+FFFD), cleaned
    /// and cut to at most `max` characters.
    pub fn lossy(bytes: &[u8], max: usize) -> Self {
        Self::lossy_redacted(bytes, max, &Redactions::default())
    }

    /// Outside `text` that may echo the handler's secrets: each taken out
    /// (see [`Redactions`]) before it is cleaned and cut to at most `max`
    /// characters.
    pub fn redacted(text: &str, max: usize, secrets: &Redactions) -> Self {
        Self::new(&secrets.apply(text), max)
    }

    /// Outside bytes that may echo the handler's secrets, read lossily as
    /// in [`SafeText::lossy`], each secret taken out before the text is
    /// cleaned and cut: a cut never leaves the beginning of a secret.
    pub fn lossy_redacted(bytes: &[u8], max: usize, secrets: &Redactions) -> Self {
        // Never more than 4 bytes a character: decode only what can show,
        // and enough beyond it to see any secret that begins there whole.
        let window = max
            .saturating_mul(4)
            .saturating_add(4)
            .saturating_add(secrets.longest());
        let shown = &bytes[..bytes.len().min(window)];
        let mut decoded = String::from_utf8_lossy(shown);
        let cut = shown.len() < bytes.len();
        if cut {
            // What the window cut off may have begun a secret: its
            // beginning goes, and a character split by the cut with it.
            let text = decoded.to_mut();
            if text.ends_with('\u{fffd}') {
                text.pop();
            }
            let partial = secrets.partial_at_end(text);
            text.truncate(text.len() - partial);
        }
        let mut text = Self::new(&secrets.apply(&decoded), max);
        if cut && !text.0.ends_with('…') {
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

    fn basic(user: &str, password: &str) -> Redactions {
        let mut secrets = Redactions::default();
        secrets.add_basic(user, password);
        secrets
    }

    #[test]
    fn secrets_are_taken_out_in_every_echoed_form() {
        let secrets = basic("estuser", "s3cr/t?#@%pw");
        // base64("estuser:s3cr/t?#@%pw")
        let sent = crate::encoding::base64_line(b"estuser:s3cr/t?#@%pw");
        let echoes = [
            format!("Authorization: Basic {sent}"),
            format!("Authorization: Basic {}", sent.trim_end_matches('=')),
            "password s3cr/t?#@%pw".to_owned(),
            "password s3cr%2Ft%3F%23%40%25pw".to_owned(),
            "password s3cr%2ft%3f%23%40%25pw".to_owned(),
            format!(
                "password {}",
                crate::encoding::base64_line(b"s3cr/t?#@%pw").trim_end_matches('=')
            ),
        ];
        for echo in echoes {
            let page = format!("<p>bad request; you sent {echo} to us</p>");
            let shown = SafeText::redacted(&page, 500, &secrets);
            assert!(shown.as_str().contains(REDACTED), "{echo}: {shown}");
            assert!(!shown.as_str().contains("s3cr"), "{echo}: {shown}");
            assert!(!shown.as_str().contains(&sent[..12]), "{echo}: {shown}");
            assert!(
                shown.as_str().starts_with("<p>bad request; you sent ")
                    && shown.as_str().ends_with(" to us</p>"),
                "the rest stays: {shown}"
            );
        }
        let html = basic("u", "a<b>&\"c'd");
        let shown = SafeText::redacted("x a&lt;b&gt;&amp;&quot;c&#39;d y", 100, &html);
        assert_eq!(shown.as_str(), "x [redacted] y");
    }

    #[test]
    fn short_secrets_are_left_alone_but_the_basic_value_never() {
        let secrets = basic("u", "p");
        let shown = SafeText::redacted("please provide a password; sent dTpw", 100, &secrets);
        // "dTpw" is base64("u:p"): taken out; the letter p stays everywhere.
        assert_eq!(shown.as_str(), "please provide a password; sent [redacted]");
        let mut token = Redactions::default();
        token.add_secret("abc");
        assert!(token.is_empty());
        token.add_secret("abcd");
        assert_eq!(
            SafeText::redacted("xabcdx", 20, &token).as_str(),
            "x[redacted]x"
        );
    }

    #[test]
    fn overlapping_secrets_become_one_mark() {
        let mut secrets = Redactions::default();
        secrets.add_secret("secret-one");
        secrets.add_secret("one-and-two");
        let shown = SafeText::redacted("a secret-one-and-two b", 100, &secrets);
        assert_eq!(shown.as_str(), "a [redacted] b");
        assert_eq!(format!("{secrets:?}"), "Redactions(2 forms)");
        assert!(!format!("{secrets:?}").contains("secret"));
    }

    #[test]
    fn a_cut_never_leaves_the_beginning_of_a_secret() {
        let secrets = basic("estuser", "Tr1cky-Passw0rd");
        let sent = crate::encoding::base64_line(b"estuser:Tr1cky-Passw0rd");
        for filler in 0..80 {
            let body = format!("{}{sent}{}", "x".repeat(filler), "y".repeat(4096));
            let shown = SafeText::lossy_redacted(body.as_bytes(), 10, &secrets);
            for k in 4..sent.len() {
                assert!(
                    !shown.as_str().contains(&sent[..k]),
                    "{filler}: {shown} holds {}",
                    &sent[..k]
                );
            }
            assert!(shown.as_str().ends_with('…'), "{shown}");
        }
        // Secrets that shrink to their mark bring what follows them into
        // view: one the window cut through must not follow them in.
        let password = "Long-Passw0rd-".repeat(5);
        let secrets = basic("estuser", &password);
        let sent = crate::encoding::base64_line(format!("estuser:{password}").as_bytes());
        let body = format!("{}tail", sent.repeat(20));
        for max in [20, 50, 100, 200, 400, 1000] {
            let shown = SafeText::lossy_redacted(body.as_bytes(), max, &secrets);
            assert!(!shown.as_str().contains(&sent[..8]), "{max}: {shown}");
            assert!(shown.as_str().starts_with(REDACTED), "{max}: {shown}");
        }
        // Without secrets it reads as `lossy` does.
        let long = vec![b'x'; 1 << 20];
        assert_eq!(
            SafeText::lossy_redacted(&long, 10, &Redactions::default()),
            SafeText::lossy(&long, 10)
        );
    }
}
