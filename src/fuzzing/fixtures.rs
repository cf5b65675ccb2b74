//! Fixed inputs the targets build on: a small CA (root and issuing
//! certificate), a CSR with DNS and IP names, and certificates issued for
//! its key with and without those names (made by `fixtures/make.sh` with
//! OpenSSL; nothing checks their signatures), plus certs-only messages
//! around them and a configuration that loads.

use crate::config::SettingsSource;
use std::collections::BTreeMap;

/// The root CA certificate (`CN=Fuzz Root`).
pub(crate) const ROOT: &[u8] = include_bytes!("fixtures/root.der");
/// The issuing CA certificate (`CN=Fuzz Issuing CA`), signed by [`ROOT`].
pub(crate) const ISSUING: &[u8] = include_bytes!("fixtures/issuing.der");
/// A CSR for `CN=fuzz.example` asking for DNS `fuzz.example`,
/// `www.fuzz.example` and IP `192.0.2.1`.
pub(crate) const CSR: &[u8] = include_bytes!("fixtures/csr.der");
/// [`CSR`]'s certificate from [`ISSUING`], with all its names.
pub(crate) const LEAF: &[u8] = include_bytes!("fixtures/leaf.der");
/// [`CSR`]'s certificate from [`ISSUING`], without its alternative names.
pub(crate) const LEAF_CN_ONLY: &[u8] = include_bytes!("fixtures/leaf-cn-only.der");

/// The API token of the fuzzed configurations.
pub(crate) const API_TOKEN: &str = "fuzz-api-token-Qx7Zk2";
/// The EST password of the fuzzed configurations.
pub(crate) const EST_PASSWORD: &str = "fuzz-est-password-Wm4Jr9";

/// A DER TLV with `tag` around `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
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

/// A certs-only SignedData (DER-shaped) holding `certs` in this order.
pub(crate) fn certs_only(certs: &[&[u8]]) -> Vec<u8> {
    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    const DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let mut inner = vec![0x02, 0x01, 0x01];
    inner.extend(tlv(0x31, &[]));
    inner.extend(tlv(0x30, DATA));
    inner.extend(tlv(0xa0, &certs.concat()));
    inner.extend(tlv(0x31, &[]));
    let mut info = SIGNED_DATA.to_vec();
    info.extend(tlv(0xa0, &tlv(0x30, &inner)));
    tlv(0x30, &info)
}

/// Settings from a map, with an environment and optionally a store that
/// fails for one key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub(crate) values: BTreeMap<String, String>,
    pub(crate) env: BTreeMap<String, String>,
    /// A key whose reading fails, and the store's words for it.
    pub(crate) failing: Option<(String, String)>,
}

impl Settings {
    /// A configuration that loads: Basic authentication, an API token.
    pub(crate) fn working() -> Self {
        let mut settings = Self::default();
        for (key, value) in [
            ("est_host", "https://est.fuzz.example:8443/prefix"),
            ("est_user", "fuzz-user"),
            ("est_password", EST_PASSWORD),
            ("api_token", API_TOKEN),
        ] {
            settings.set(key, value);
        }
        settings
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), value.to_owned());
    }

    pub(crate) fn unset(&mut self, key: &str) {
        self.values.remove(key);
    }
}

impl SettingsSource for Settings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        match &self.failing {
            Some((failing, why)) if failing == key => Err(why.clone()),
            _ => Ok(self.values.get(key).cloned()),
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}
