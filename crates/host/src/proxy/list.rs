//! `proxy_server_list` read as acme2certifier reads it, and the proxy it
//! chooses for a host.

use super::endpoint::{Credentials, Proxy, ProxyKind, Secret};
use base64ct::{Base64, Encoding};
use hyper::Uri;
use regex::Regex;
use std::fmt;

/// The setting's key, under `[DEFAULT]` of an acme_srv.cfg or beside the
/// `[CAhandler]` keys.
pub const KEY: &str = "proxy_server_list";

/// The proxy URL schemes acme2certifier knows (`requests` with PySocks).
const KNOWN_SCHEMES: &[&str] = &["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// A parsed `proxy_server_list`.
#[derive(Debug)]
pub struct ProxyList {
    /// The patterns other than `*`, in the order they are tried.
    entries: Vec<Entry>,
    /// The `*` entry's proxy, when there is one (`Some(None)`: it names none).
    wildcard: Option<Option<Target>>,
}

/// One pattern and what it selects.
#[derive(Debug)]
struct Entry {
    pattern: String,
    regex: Regex,
    target: Option<Target>,
}

/// A proxy URL as written, checked; usable only when its scheme is `http`.
#[derive(Debug, Clone)]
struct Target {
    scheme: String,
    proxy: Proxy,
}

impl ProxyList {
    /// Parses the setting's value. Invalid JSON, a value that is not an
    /// object, a pattern that is not a regular expression, a proxy that is
    /// neither a string nor `null`, or a proxy URL that cannot be read or
    /// has a scheme acme2certifier does not know, is an error naming
    /// [`KEY`] and the pattern, never the proxy URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Entries(pairs) = serde_json::from_str(text)
            .map_err(|e| format!("{KEY} is not a JSON object of pattern to proxy URL: {e}"))?;
        // Python's dict keeps a repeated key at its first place with its last value...
        let mut unique: Vec<(String, serde_json::Value)> = Vec::new();
        for (key, value) in pairs {
            match unique.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => unique.push((key, value)),
            }
        }
        // ...and `{k.replace("*.", ""): v ...}` lets a later key win a collision.
        let mut patterns: Vec<(String, Option<Target>)> = Vec::new();
        for (key, value) in unique {
            let target = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(url) if url.is_empty() => None,
                serde_json::Value::String(url) => Some(
                    Target::parse(&url)
                        .map_err(|why| format!("{KEY}: the proxy for {key:?} {why}"))?,
                ),
                _ => {
                    return Err(format!(
                        "{KEY}: the proxy for {key:?} is not a string (a proxy URL) or null"
                    ));
                }
            };
            let pattern = key.replace("*.", "");
            patterns.retain(|(p, _)| *p != pattern);
            patterns.push((pattern, target));
        }
        let mut wildcard = None;
        let mut entries = Vec::new();
        for (pattern, target) in patterns {
            if pattern == "*" {
                wildcard = Some(target);
                continue;
            }
            let regex = Regex::new(&pattern).map_err(|e| {
                format!("{KEY}: the pattern {pattern:?} is not a usable regular expression: {e}")
            })?;
            entries.push(Entry {
                pattern,
                regex,
                target,
            });
        }
        entries.sort_by(|a, b| b.pattern.cmp(&a.pattern));
        Ok(Self { entries, wildcard })
    }

    /// The proxy for connections to `host` (as written in `est_host`,
    /// without the port; an IPv6 address without brackets), or `None` to
    /// connect directly. An error when the chosen proxy is one this host
    /// cannot use (`https://`, `socks4://`, `socks4a://`).
    pub fn select(&self, host: &str) -> Result<Option<Proxy>, String> {
        let mut chosen: Option<(&str, &Target)> = None;
        for entry in &self.entries {
            if entry.regex.is_match(host) {
                tracing::debug!(target: "proxy", "{host} matches {KEY} pattern {:?}", entry.pattern);
                chosen = entry.target.as_ref().map(|t| (entry.pattern.as_str(), t));
                break;
            }
        }
        if chosen.is_none()
            && let Some(Some(target)) = &self.wildcard
        {
            chosen = Some(("*", target));
        }
        let Some((pattern, target)) = chosen else {
            return Ok(None);
        };
        if !matches!(target.scheme.as_str(), "http" | "socks5" | "socks5h") {
            return Err(format!(
                "{KEY}: the proxy chosen for {host} (pattern {pattern:?}) is a {}:// proxy, which this host does not support: only http:// (HTTP CONNECT), socks5:// and socks5h:// proxies are",
                target.scheme
            ));
        }
        Ok(Some(target.proxy.clone()))
    }
}

/// The JSON object's members in document order, repeated keys included.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Entries(pairs))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Target {
    /// Reads a proxy URL; the error says what is wrong without quoting it.
    fn parse(url: &str) -> Result<Self, String> {
        // `requests` puts `http://` before a proxy given without a scheme.
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let parsed =
            url::Url::parse(&with_scheme).map_err(|e| format!("is not a usable URL ({e})"))?;
        let scheme = parsed.scheme().to_owned();
        if !KNOWN_SCHEMES.contains(&scheme.as_str()) {
            return Err(format!(
                "has the scheme {scheme:?}, which is not a proxy scheme (http, https, socks4, socks4a, socks5, socks5h)"
            ));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("names no proxy host")?
            .to_owned();
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if scheme.starts_with("socks") {
                1080
            } else {
                80
            });
        // As `requests` does: credentials when the URL has a user name,
        // both parts percent-decoded.
        let credentials = (!parsed.username().is_empty()).then(|| {
            let decode =
                |part: &str| -> Vec<u8> { percent_encoding::percent_decode_str(part).collect() };
            (
                decode(parsed.username()),
                decode(parsed.password().unwrap_or("")),
            )
        });
        let kind = match scheme.as_str() {
            "http" => Some(ProxyKind::Http),
            "socks5" => Some(ProxyKind::Socks5 { remote_dns: false }),
            "socks5h" => Some(ProxyKind::Socks5 { remote_dns: true }),
            _ => None,
        };
        let authorization = match (&kind, credentials) {
            (Some(ProxyKind::Http), Some((user, password))) => {
                let mut basic = user;
                basic.push(b':');
                basic.extend(password);
                Some(Credentials::Basic(Secret(format!(
                    "Basic {}",
                    Base64::encode_string(&basic)
                ))))
            }
            (Some(ProxyKind::Socks5 { .. }), Some((user, password))) => {
                if user.len() > 255 || password.len() > 255 {
                    return Err(
                        "has a user name or password longer than SOCKS5 allows (255 bytes)".into(),
                    );
                }
                Some(Credentials::UserPass(
                    Secret(String::from_utf8_lossy(&user).into_owned()),
                    Secret(String::from_utf8_lossy(&password).into_owned()),
                ))
            }
            _ => None,
        };
        // Where the TCP connection goes; a host the HTTP stack cannot take
        // (an opaque socks host may hold more than a DNS name) is refused here.
        let uri = Uri::builder()
            .scheme("http")
            .authority(format!("{host}:{port}"))
            .path_and_query("/")
            .build()
            .map_err(|_| "names a proxy host that cannot be connected to".to_owned())?;
        Ok(Self {
            scheme,
            proxy: Proxy {
                kind: kind.unwrap_or(ProxyKind::Http),
                host,
                port,
                uri,
                authorization,
            },
        })
    }
}

/// The host of an `est_host` authority (`host[:port]`, IPv6 literals in
/// brackets), as `proxy_server_list` patterns are matched against it.
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(list: &str, host: &str) -> Result<Option<String>, String> {
        Ok(ProxyList::parse(list)?.select(host)?.map(|p| p.to_string()))
    }

    #[test]
    fn patterns_are_searched_in_reverse_order_with_star_as_fallback() {
        let list = r#"{"bar.local$": "http://bar-proxy:1", "foo\\..*$": "http://foo-proxy:2",
                       "*": "http://fallback:3", "a": "http://a-proxy:4"}"#;
        // Tried in reverse order: "foo\..*$", "bar.local$", then "a"; each
        // searched anywhere in the name (re.search), so "a" takes whatever
        // contains an a and neither before it matched. (The expectations
        // are what acme2certifier 0.46.3's proxy_check answers.)
        assert_eq!(
            select(list, "www.foo.example").unwrap().as_deref(),
            Some("http://foo-proxy:2")
        );
        assert_eq!(
            select(list, "est.bar.local").unwrap().as_deref(),
            Some("http://bar-proxy:1")
        );
        assert_eq!(
            select(list, "bar.local").unwrap().as_deref(),
            Some("http://bar-proxy:1")
        );
        assert_eq!(
            select(list, "est.example").unwrap().as_deref(),
            Some("http://a-proxy:4")
        );
        assert_eq!(
            select(list, "est.test").unwrap().as_deref(),
            Some("http://fallback:3")
        );
        let no_star = r#"{"^est\\.corp$": "proxy.corp:3128"}"#;
        assert_eq!(select(no_star, "est.test").unwrap(), None);
        // Without a scheme, http:// (as requests reads it); port 80 by default.
        assert_eq!(
            select(no_star, "est.corp").unwrap().as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            select(r#"{"*": "http://p"}"#, "x").unwrap().as_deref(),
            Some("http://p:80")
        );
    }

    #[test]
    fn star_dot_is_removed_everywhere_and_later_keys_win() {
        // "*.example.com" becomes "example.com" (a regex: "." is any character).
        let list = r#"{"*.example.com": "http://one:1"}"#;
        assert_eq!(
            select(list, "est.example.com").unwrap().as_deref(),
            Some("http://one:1")
        );
        assert_eq!(
            select(list, "exampleXcom").unwrap().as_deref(),
            Some("http://one:1")
        );
        let collide = r#"{"*.a.test": "http://first:1", "a.test": "http://second:2"}"#;
        assert_eq!(
            select(collide, "a.test").unwrap().as_deref(),
            Some("http://second:2")
        );
        // A repeated key keeps its first place but its last value.
        let repeated =
            r#"{"*.a.test": "http://x:1", "a.test": "http://y:2", "*.a.test": "http://z:3"}"#;
        assert_eq!(
            select(repeated, "a.test").unwrap().as_deref(),
            Some("http://y:2")
        );
    }

    #[test]
    fn a_match_without_a_proxy_falls_back_to_star_or_goes_direct() {
        let list = r#"{"internal$": null, "*": "http://fallback:3"}"#;
        assert_eq!(
            select(list, "est.internal").unwrap().as_deref(),
            Some("http://fallback:3")
        );
        let direct = r#"{"internal$": "", "*": null}"#;
        assert_eq!(select(direct, "est.internal").unwrap(), None);
        assert_eq!(select("{}", "est.test").unwrap(), None);
    }

    #[test]
    fn matching_is_case_sensitive_like_python() {
        let list = r#"{"^est\\.test$": "http://p:1"}"#;
        assert_eq!(select(list, "EST.test").unwrap(), None);
        assert!(select(list, "est.test").unwrap().is_some());
    }

    #[test]
    fn bad_settings_are_errors_naming_the_key_but_not_the_url() {
        let secret = "s3cr3t-Pr0xy";
        for (list, words) in [
            ("not json", "is not a JSON object"),
            (r#"["http://p:1"]"#, "is not a JSON object"),
            (
                r#"{"(unclosed": "http://p:1"}"#,
                "\"(unclosed\" is not a usable regular expression",
            ),
            (
                r#"{"(?=look)": "http://p:1"}"#,
                "is not a usable regular expression",
            ),
            (r#"{"a": 3128}"#, "is not a string"),
            (
                &format!(r#"{{"a": "ftp://u:{secret}@p:1"}}"#),
                "has the scheme \"ftp\"",
            ),
            (
                &format!(r#"{{"a": "http://u:{secret}@:1"}}"#),
                "is not a usable URL",
            ),
            (
                &format!(r#"{{"a": "http://u:{secret}@p:99999"}}"#),
                "is not a usable URL",
            ),
        ] {
            let err = ProxyList::parse(list).unwrap_err();
            assert!(err.starts_with(KEY), "{list}: {err}");
            assert!(err.contains(words), "{list}: {err}");
            assert!(!err.contains(secret), "{list}: {err}");
        }
    }

    #[test]
    fn only_a_chosen_socks4_or_https_proxy_is_refused() {
        let list = r#"{"bar.local$": "socks4://u:pw@proxy.local:5555", "foo$": "https://p:443"}"#;
        let parsed = ProxyList::parse(list).unwrap();
        assert!(parsed.select("est.test").unwrap().is_none());
        let socks = parsed.select("est.bar.local").unwrap_err();
        assert!(
            socks.contains("socks4:// proxy") && socks.contains("only http://"),
            "{socks}"
        );
        assert!(!socks.contains("pw"), "{socks}");
        let socks5 = ProxyList::parse(r#"{"*": "socks5h://u:pw@proxy.local"}"#)
            .unwrap()
            .select("est.test")
            .unwrap()
            .unwrap();
        assert_eq!(socks5.to_string(), "socks5h://proxy.local:1080");
        assert!(!format!("{socks5:?}").contains("pw"));
        let https = parsed.select("est.foo").unwrap_err();
        assert!(https.contains("https:// proxy"), "{https}");
    }

    #[test]
    fn credentials_are_percent_decoded_and_never_shown() {
        let list = r#"{"*": "http://us%65r:p%40ss%3Aw0rd@proxy.test:8080"}"#;
        let proxy = ProxyList::parse(list)
            .unwrap()
            .select("est.test")
            .unwrap()
            .unwrap();
        assert_eq!(
            proxy.authorization,
            Some(Credentials::Basic(Secret(format!(
                "Basic {}",
                Base64::encode_string(b"user:p@ss:w0rd")
            ))))
        );
        assert!(proxy.has_credentials());
        assert_eq!(proxy.to_string(), "http://proxy.test:8080");
        let debug = format!("{proxy:?} {:?}", ProxyList::parse(list).unwrap());
        assert!(
            !debug.contains("p%40ss") && !debug.contains("dXNlcjpw"),
            "{debug}"
        );
        let anonymous = ProxyList::parse(r#"{"*": "http://proxy.test:8080"}"#)
            .unwrap()
            .select("x")
            .unwrap()
            .unwrap();
        assert!(!anonymous.has_credentials());
    }

    #[test]
    fn odd_proxy_hosts_are_refused_or_usable_never_a_panic() {
        for host in [
            "a%zzb",
            "a^b",
            "a|b",
            "a\"b",
            "a{b}",
            "[::1]",
            "[fe80::1%25eth0]",
            "a`b",
            "1.2.3",
            "xn--nxasmq6b",
            "a..b",
            "-a-",
            "%41",
        ] {
            for scheme in ["http", "socks5", "socks5h"] {
                let list = serde_json::json!({ "*": format!("{scheme}://u:pw@{host}:1080") });
                match ProxyList::parse(&list.to_string()) {
                    Ok(parsed) => {
                        let proxy = parsed.select("x").unwrap().unwrap();
                        assert_eq!(proxy.uri().port_u16(), Some(1080), "{host}");
                    }
                    Err(why) => assert!(why.starts_with(KEY) && !why.contains("pw"), "{why}"),
                }
            }
        }
    }

    #[test]
    fn hosts_are_matched_without_port_or_brackets() {
        assert_eq!(host_of("est.test:8443"), "est.test");
        assert_eq!(host_of("est.test"), "est.test");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }
}
