//! How the handler proves its identity to the EST server, and which trust
//! anchors verify the server: `est_user`/`est_password` (HTTP Basic, sent
//! by the component) or `est_client_cert` with `est_client_key` or
//! `cert_passphrase` (TLS client authentication, applied by the host), and
//! `ca_bundle`. Exactly one authentication mode may be configured.

use super::keys;
use super::options::parse_bool;
use super::secret::Secret;
use super::source::Reader;

/// How the handler proves its identity to the EST server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic, sent by the handler itself on every request.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A TLS client certificate, presented by the host's HTTP client.
    ClientCertificate {
        /// Path of the certificate (PEM, or PKCS#12 when `key` says so).
        cert_file: String,
        /// Where the private key comes from.
        key: ClientKey,
    },
}

/// The private key that goes with `est_client_cert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// A PEM private key file (`est_client_key`).
    PemFile(String),
    /// The key is inside the PKCS#12 `est_client_cert`, opened with this passphrase.
    Pkcs12 {
        /// The PKCS#12 passphrase.
        passphrase: Secret,
    },
}

/// Which trust anchors verify the EST server's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaBundle {
    /// The host's default roots (`ca_bundle` unset or `True`).
    System,
    /// A PEM file of trust anchors.
    File(String),
    /// No verification at all (`ca_bundle: False`).
    Disabled,
}

/// Reads the authentication settings and `ca_bundle`; problems go to
/// `reader`. The mode is `None` when the settings are incomplete or
/// conflicting (each such problem is recorded).
pub(crate) fn load(reader: &mut Reader<'_>) -> (Option<Auth>, CaBundle) {
    let user = reader.value_or_variable(keys::EST_USER, keys::EST_USER_VARIABLE);
    let password = reader.value_or_variable(keys::EST_PASSWORD, keys::EST_PASSWORD_VARIABLE);
    let client_cert = reader.value(keys::EST_CLIENT_CERT);
    let client_key = reader.value(keys::EST_CLIENT_KEY);
    let passphrase =
        reader.value_or_variable(keys::CERT_PASSPHRASE, keys::CERT_PASSPHRASE_VARIABLE);
    let ca_bundle = match reader.value(keys::CA_BUNDLE) {
        None => CaBundle::System,
        Some(value) => match parse_bool(&value) {
            Some(true) => CaBundle::System,
            Some(false) => CaBundle::Disabled,
            None => CaBundle::File(value),
        },
    };

    let client_configured = client_cert.is_some();
    let user_configured = user.is_some() || password.is_some();
    let client = match (client_cert, client_key, passphrase) {
        (None, _, _) => None,
        (Some(cert_file), Some(key), _) => Some(Auth::ClientCertificate {
            cert_file,
            key: ClientKey::PemFile(key),
        }),
        (Some(cert_file), None, Some(passphrase)) => Some(Auth::ClientCertificate {
            cert_file,
            key: ClientKey::Pkcs12 {
                passphrase: Secret::new(passphrase),
            },
        }),
        (Some(_), None, None) => {
            reader.problem(
                "Clientauth configuration incomplete: either \"est_client_key\" or \"cert_passphrase\" parameter is missing",
            );
            None
        }
    };
    let basic = match (user, password) {
        (Some(user), Some(_)) if user.contains(':') => {
            reader.problem("\"est_user\" must not contain ':' (HTTP Basic cannot carry it)");
            None
        }
        (Some(user), Some(password)) => Some(Auth::Basic {
            user,
            password: Secret::new(password),
        }),
        (None, None) => None,
        _ => {
            reader.problem(
                "Configuration incomplete: either \"est_user\" or \"est_password\" parameter is missing",
            );
            None
        }
    };

    if !client_configured && !user_configured {
        reader.problem(
            "Configuration incomplete: either user or client authentication must be configured",
        );
    } else if client_configured && user_configured {
        reader.problem(
            "Configuration error: user and client authentication cannot be configured together",
        );
    }
    if client_configured && ca_bundle == CaBundle::Disabled {
        reader.problem("Configuration error: client authentication requires a ca_bundle");
    }
    let auth = match (basic, client) {
        (Some(auth), None) | (None, Some(auth)) => Some(auth),
        _ => None,
    };
    (auth, ca_bundle)
}
