//! Who may call the API: `Authorization: Bearer <api_token>`, compared in
//! constant time, unless the operator turned authentication off.

use super::kind::ProblemKind;
use super::message::ApiResponse;
use super::problem::problem;
use crate::config::{ApiAccess, Secret, SettingsSource, keys};
use crate::text::SafeText;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Compares in constant time (over fixed-size digests, so that the
/// comparison does not reveal the token's length either).
fn token_matches(given: &str, expected: &Secret) -> bool {
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose().as_bytes()))
        .into()
}

/// Why a caller is not let through.
pub(crate) enum Denied {
    /// The caller's fault or the missing token: the answer to give
    /// (`401`, or `503` when no token is configured).
    Refused(ApiResponse),
    /// `api_auth` (or reading the token) is broken: what is wrong, naming
    /// the setting and its value. Nobody can be let through until it is
    /// fixed.
    Misconfigured(String),
}

impl Denied {
    /// The answer for a route that needs the token: the refusal, or `500`
    /// for a broken setting.
    pub(crate) fn into_answer(self) -> ApiResponse {
        match self {
            Self::Refused(answer) => answer,
            Self::Misconfigured(why) => misconfigured(500, why),
        }
    }
}

/// The problem document of a broken `api_auth` (kind `api-auth-invalid`).
pub(crate) fn misconfigured(status: u16, why: String) -> ApiResponse {
    problem(
        status,
        ProblemKind::ApiAuthInvalid,
        "The API's authentication setting is invalid",
        why,
    )
}

/// Lets the caller with `authorization` (the `Authorization` header)
/// through, or says why not.
pub(crate) fn authorize(
    authorization: Option<&str>,
    source: &dyn SettingsSource,
) -> Result<(), Denied> {
    let expected = match ApiAccess::load(source) {
        Ok(ApiAccess::Open) => return Ok(()),
        Ok(ApiAccess::Token(token)) => token,
        Ok(ApiAccess::Unconfigured) => {
            return Err(Denied::Refused(problem(
                503,
                ProblemKind::ApiAuthUnconfigured,
                "The API has no token",
                "no api_token is configured, so the API issues nothing; set the secret api_token (or api_auth = none to run without authentication)",
            )));
        }
        Err(why) => return Err(Denied::Misconfigured(with_value(why, source))),
    };
    let given = authorization.and_then(bearer_token);
    match given {
        Some(token) if token_matches(token.trim(), &expected) => Ok(()),
        Some(_) => Err(Denied::Refused(unauthorized("the bearer token is wrong"))),
        None => Err(Denied::Refused(unauthorized(
            "send Authorization: Bearer <api_token>",
        ))),
    }
}

/// The longest `api_auth` value named in an answer: the words it takes
/// are short, and a longer value may be a token put in the wrong place.
const SHOWN_VALUE: usize = 12;

/// `why`, with the value `api_auth` has, so that the operator sees what to
/// fix: named when short (a misspelt word), else only its length.
fn with_value(why: String, source: &dyn SettingsSource) -> String {
    let value = match source.get(keys::API_AUTH) {
        Ok(Some(value)) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => return why,
    };
    let length = value.chars().count();
    if length <= SHOWN_VALUE {
        format!("{why}; it is \"{}\"", SafeText::new(&value, SHOWN_VALUE))
    } else {
        format!(
            "{why}; it is a value of {length} characters (not shown: it may be a secret set in the wrong place)"
        )
    }
}

fn unauthorized(detail: &str) -> ApiResponse {
    let mut response = problem(401, ProblemKind::Unauthorized, "Unauthorized", detail);
    response
        .headers
        .push(("www-authenticate", "Bearer realm=\"est-ca-handler\"".into()));
    response
}

/// The token of an `Authorization: Bearer <token>` value; the scheme name
/// is case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
