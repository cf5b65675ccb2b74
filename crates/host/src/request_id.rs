//! Request ids: every request `serve` answers has one, taken from the
//! caller's `X-Request-Id` when it is usable and made up otherwise. The id
//! is in the request's log lines (a `request` span with field `id`), in the
//! `X-Request-Id` answer header, and handed to the component in the
//! request's `X-Request-Id`, which names it in problem documents'
//! `instance` (`urn:request:<id>`).

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from a caller.
pub const MAX_LEN: usize = 64;

/// Whether `id` may be used as it is: 1 to [`MAX_LEN`] letters, digits,
/// `-`, `_`, `.` or `:` (safe in a log line, a header and a URN).
pub fn is_usable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The caller's id from `headers`, when usable, or a new one.
pub fn of(headers: &hyper::HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| is_usable(id))
        .map(str::to_owned)
        .unwrap_or_else(new)
}

/// A new id: this process's random prefix and a sequence number, so ids
/// are unique within the process and unlikely to repeat across restarts.
pub fn new() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    });
    format!(
        "{:012x}-{:08x}",
        prefix & 0xffff_ffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_caller_id_is_kept_and_anything_else_replaced() {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(HEADER, "trace-42.a:b_c".parse().unwrap());
        assert_eq!(of(&headers), "trace-42.a:b_c");
        for bad in [
            "",
            "has space",
            "new\u{7f}line",
            &"x".repeat(MAX_LEN + 1),
            "a/b",
        ] {
            let mut headers = hyper::HeaderMap::new();
            if let Ok(value) = bad.parse() {
                headers.insert(HEADER, value);
            }
            let id = of(&headers);
            assert_ne!(id, bad);
            assert!(is_usable(&id), "{id}");
        }
        assert_ne!(new(), new(), "each new id differs");
    }
}
