//! The handler's settings as the host holds them: the `[CAhandler]` keys
//! handed to the component through `wasi:config/store`, the environment
//! variables its `*_variable` keys name, and the outbound HTTP set-up
//! derived from them. Built once, used for every call.

use crate::outbound::Outbound;
use crate::proxy::{self, ProxyList};
use anyhow::{Context, Result};
use est_ca_handler::config::{Config, DEFAULT_REQUEST_TIMEOUT_SECS};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Everything a call needs besides the component.
pub struct Settings {
    /// The `[CAhandler]` keys (lower case) and values, as the component
    /// reads them through `wasi:config/store`.
    pub(crate) config_values: Arc<BTreeMap<String, String>>,
    /// The environment variables the `*_variable` keys name, and only
    /// those, with their values: the component's whole environment.
    pub(crate) env_vars: Vec<(String, String)>,
    /// Where the component may send requests, with the host's TLS.
    pub(crate) outbound: Arc<Outbound>,
    /// `request_timeout` (the default when the configuration is unusable).
    request_timeout: Duration,
}

impl Settings {
    /// Settings from key/value pairs, reading the variables that
    /// `*_variable` keys name from this process's environment.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::with_env(pairs, |name| std::env::var(name).ok())
    }

    /// Settings from key/value pairs, with `lookup` as the environment.
    pub fn with_env<I, K, V>(pairs: I, lookup: impl Fn(&str) -> Option<String>) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut values: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
            .collect();
        // The proxy is the host's business: the component never sees it.
        let proxies = match values.remove(proxy::KEY) {
            Some(text) if !text.trim().is_empty() => {
                Some(ProxyList::parse(&text).map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        // Only the variables the configuration names, never the whole environment.
        let env_vars: Vec<(String, String)> = values
            .iter()
            .filter(|(key, _)| key.ends_with("_variable"))
            .filter_map(|(_, name)| {
                lookup(name.trim()).map(|value| (name.trim().to_owned(), value))
            })
            .collect();
        let view = View {
            values: &values,
            env_vars: &env_vars,
        };
        let (outbound, timeout_secs) = match Config::load(&view) {
            Ok(config) => {
                let host = proxy::host_of(&config.url.authority);
                let proxy = match &proxies {
                    Some(list) => list.select(host).map_err(anyhow::Error::msg)?,
                    None => None,
                };
                (
                    Outbound::with_proxy(&config, proxy).context("configuration")?,
                    config.request_timeout_secs,
                )
            }
            // The component reports configuration errors itself.
            Err(_) => (Outbound::deny_all(), DEFAULT_REQUEST_TIMEOUT_SECS),
        };
        Ok(Self {
            config_values: Arc::new(values),
            env_vars,
            outbound: Arc::new(outbound),
            request_timeout: Duration::from_secs(timeout_secs.into()),
        })
    }

    /// `request_timeout`: how long the component waits for the EST server
    /// (20 s unless set), the base of the host-side deadline of every call
    /// ([`crate::Host::call_time_limit`]).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The proxy that carries the connections to `est_host`, chosen from
    /// `proxy_server_list` ([`crate::proxy`]), as `scheme://host:port`
    /// (never with its credentials); `None` when they go direct.
    pub fn proxy(&self) -> Option<String> {
        self.outbound.proxy().map(ToString::to_string)
    }

    /// Settings from the `[CAhandler]` section of an acme2certifier
    /// `acme_srv.cfg` (a regular file of at most
    /// [`crate::files::MAX_OPERATOR_FILE`] bytes) and its `[DEFAULT]`
    /// `proxy_server_list`, with `overrides` applied on top.
    pub fn from_acme_srv_cfg(path: &Path, overrides: &[(String, String)]) -> Result<Self> {
        let text = String::from_utf8(crate::files::read_operator_file(path)?)
            .map_err(|_| anyhow::anyhow!("cannot read {}: it is not UTF-8 text", path.display()))?;
        let mut pairs = acme_srv_cfg_pairs(&text).with_context(|| format!("{}", path.display()))?;
        pairs.extend(overrides.iter().cloned());
        Self::from_pairs(pairs)
    }
}

/// The key/value pairs of the `[CAhandler]` section of an INI text, as
/// Python's configparser reads them (keys lower-cased, `=` or `:`).
pub fn cahandler_section(text: &str) -> Result<Vec<(String, String)>> {
    ini_section(text, "cahandler")?.context("it has no [CAhandler] section")
}

/// What the host reads of an acme_srv.cfg: the `[CAhandler]` pairs, and
/// `proxy_server_list` from `[DEFAULT]`, where acme2certifier reads it (one
/// under `[CAhandler]` is ignored there, and here, with a warning).
pub fn acme_srv_cfg_pairs(text: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = cahandler_section(text)?;
    if pairs.iter().any(|(k, _)| k == proxy::KEY) {
        tracing::warn!(
            "acme_srv.cfg: {} belongs under [DEFAULT], where acme2certifier reads it; the one under [CAhandler] is ignored",
            proxy::KEY
        );
        pairs.retain(|(k, _)| k != proxy::KEY);
    }
    let defaults = ini_section(text, "default")?.unwrap_or_default();
    if let Some(list) = defaults.into_iter().find(|(k, _)| k == proxy::KEY) {
        pairs.insert(0, list);
    }
    Ok(pairs)
}

/// The key/value pairs of section `name` (lower case) of an INI text. As
/// in acme2certifier's `ConfigParser(interpolation=None)`, `#` and `;`
/// start a comment only at the start of a line: within a value (a
/// password, a JSON `proxy_server_list`) they are part of it.
fn ini_section(text: &str, name: &str) -> Result<Option<Vec<(String, String)>>> {
    let mut defaults = configparser::ini::IniDefault::default();
    defaults.enable_inline_comments = false;
    let mut ini = configparser::ini::Ini::new_from_defaults(defaults);
    let map = ini
        .read(text.to_owned())
        .map_err(|e| anyhow::anyhow!("not an INI file: {e}"))?;
    Ok(map.get(name).map(|section| {
        section
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect()
    }))
}

/// The settings as the handler's configuration code reads them (the same
/// view the component has), to build the host's side of them.
struct View<'a> {
    values: &'a BTreeMap<String, String>,
    env_vars: &'a [(String, String)],
}

impl est_ca_handler::config::SettingsSource for View<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.values.get(key).cloned())
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env_vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_component_sees_only_the_variables_its_settings_name() {
        let env = |name: &str| match name {
            "EST_PW" => Some("pw".to_owned()),
            "HOME" | "AWS_SECRET_ACCESS_KEY" => Some("must-not-leak".to_owned()),
            _ => None,
        };
        let settings = Settings::with_env(
            [
                ("est_host", "https://est.test"),
                ("est_user", "u"),
                ("est_password_variable", "EST_PW"),
                ("est_user_variable", "UNSET"),
            ],
            env,
        )
        .unwrap();
        assert_eq!(
            settings.env_vars,
            vec![("EST_PW".to_owned(), "pw".to_owned())]
        );
    }

    #[test]
    fn the_cahandler_section_is_read_like_configparser_does() {
        let text = "[DEFAULT]\ndebug: True\n\n[Nonce]\nest_host: https://wrong\n\n[CAhandler]\n# comment\nhandler_file: examples/ca_handler/est_ca_handler.py\nEST_Host: https://est.example:8443\nest_user = alice\nca_bundle: False\n";
        let mut pairs = cahandler_section(text).unwrap();
        pairs.sort();
        assert_eq!(
            pairs,
            vec![
                ("ca_bundle".to_owned(), "False".to_owned()),
                ("est_host".to_owned(), "https://est.example:8443".to_owned()),
                ("est_user".to_owned(), "alice".to_owned()),
                (
                    "handler_file".to_owned(),
                    "examples/ca_handler/est_ca_handler.py".to_owned()
                ),
            ]
        );
        let err = cahandler_section("[Other]\na: b\n").unwrap_err();
        assert!(err.to_string().contains("no [CAhandler] section"), "{err}");
    }

    #[test]
    fn hashes_and_semicolons_inside_values_are_kept_as_configparser_does() {
        let text = "[DEFAULT]\nproxy_server_list: {\"#x\": \"http://u:p;w#1@proxy:1\"}\n[CAhandler]\n; a comment\n  # another\nest_password: pa#ss;word # not a comment\n";
        let pairs = acme_srv_cfg_pairs(text).unwrap();
        assert!(
            pairs.contains(&("est_password".into(), "pa#ss;word # not a comment".into())),
            "{pairs:?}"
        );
        assert!(
            pairs.contains(&(
                proxy::KEY.into(),
                r##"{"#x": "http://u:p;w#1@proxy:1"}"##.into()
            )),
            "{pairs:?}"
        );
        assert_eq!(pairs.len(), 2, "{pairs:?}");
    }

    #[test]
    fn proxy_server_list_is_read_from_default_as_acme2certifier_does() {
        let text = "[DEFAULT]\nproxy_server_list: {\"^est\\\\.corp$\": \"http://u:pw@proxy.corp:3128\"}\n\n[CAhandler]\nest_host: https://est.corp\nproxy_server_list: {\"*\": \"http://ignored:1\"}\n";
        let pairs = acme_srv_cfg_pairs(text).unwrap();
        let lists: Vec<&String> = pairs
            .iter()
            .filter(|(k, _)| k == proxy::KEY)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            lists,
            [r#"{"^est\\.corp$": "http://u:pw@proxy.corp:3128"}"#]
        );
        assert!(pairs.contains(&("est_host".into(), "https://est.corp".into())));
        let without = acme_srv_cfg_pairs("[CAhandler]\nest_host: https://est.corp\n").unwrap();
        assert!(without.iter().all(|(k, _)| k != proxy::KEY));
    }

    #[test]
    fn the_proxy_is_the_hosts_and_never_the_components() {
        let settings = Settings::from_pairs([
            ("est_host", "https://est.corp:8443"),
            ("est_user", "u"),
            ("est_password", "p"),
            (
                "Proxy_Server_List",
                r#"{"corp$": "http://user:pr0xy-pw@proxy.corp:3128", "*": null}"#,
            ),
        ])
        .unwrap();
        assert_eq!(settings.proxy().as_deref(), Some("http://proxy.corp:3128"));
        assert!(!settings.config_values.contains_key(proxy::KEY));
        assert!(
            settings
                .config_values
                .values()
                .all(|v| !v.contains("pr0xy-pw"))
        );
        let direct = Settings::from_pairs([
            ("est_host", "https://est.test"),
            ("est_user", "u"),
            ("est_password", "p"),
            (
                "proxy_server_list",
                r#"{"corp$": "http://proxy.corp:3128"}"#,
            ),
        ])
        .unwrap();
        assert_eq!(direct.proxy(), None);
        let empty =
            Settings::from_pairs([("est_host", "https://est.test"), ("proxy_server_list", " ")]);
        assert!(empty.unwrap().proxy().is_none());
    }

    #[test]
    fn an_unusable_proxy_server_list_is_a_configuration_error() {
        for (list, words) in [
            ("{not json", "proxy_server_list is not a JSON object"),
            (
                r#"{"est$": "socks4://u:pr0xy-pw@socks.test:1080"}"#,
                "socks4:// proxy",
            ),
        ] {
            let err = Settings::from_pairs([
                ("est_host", "https://est.test"),
                ("est_user", "u"),
                ("est_password", "p"),
                ("proxy_server_list", list),
            ])
            .err()
            .expect("refused");
            let text = format!("{err:#}");
            assert!(text.contains(words), "{text}");
            assert!(!text.contains("pr0xy-pw"), "{text}");
        }
    }

    #[test]
    fn an_acme_srv_cfg_that_is_not_a_regular_file_is_refused_at_once() {
        use crate::files::tests::{fifo, scratch_dir, within_10_s};
        let dir = scratch_dir("acme-srv-cfg");
        let fifo = fifo(&dir, "acme_srv.cfg");
        let huge = dir.join("huge.cfg");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(1 << 31)
            .unwrap();
        let binary = dir.join("binary.cfg");
        std::fs::write(&binary, b"[CAhandler]\nest_host: \xff\n").unwrap();
        // The FIFO first: the read that never ends.
        for (path, problem) in [
            (fifo, "it is a FIFO, not a regular file"),
            (dir.clone(), "it is a directory, not a regular file"),
            (
                huge,
                "it has 2147483648 bytes, more than the 1048576 allowed",
            ),
            (
                "/dev/zero".into(),
                "it is a character device, not a regular file",
            ),
            (binary, "it is not UTF-8 text"),
        ] {
            let shown = path.display().to_string();
            let err = within_10_s(move || Settings::from_acme_srv_cfg(&path, &[]).map(|_| ()))
                .expect_err("the file is refused");
            let text = format!("{err:#}");
            assert_eq!(text, format!("cannot read {shown}: {problem}"));
        }
    }

    #[test]
    fn missing_tls_files_are_named() {
        let err = Settings::from_pairs([
            ("est_host", "https://est.test"),
            ("est_client_cert", "/nonexistent/client.pem"),
            ("est_client_key", "/nonexistent/client.key"),
            ("ca_bundle", "/nonexistent/ca.pem"),
        ])
        .err()
        .expect("missing files are refused");
        assert!(format!("{err:#}").contains("/nonexistent/"), "{err:#}");
    }
}
