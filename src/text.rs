//! Text that comes from outside (the EST server, the API's caller, the
//! configuration) made safe to put into errors and logs.

/// Makes untrusted text safe to show: control characters become spaces and
/// the text is cut to at most `max` characters (marked with `…`).
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_and_long_text_is_cut() {
        assert_eq!(sanitize("a\r\nb\x1b[31m", 100), "a  b [31m");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize("  padded  ", 100), "padded");
    }
}
