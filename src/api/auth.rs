//! Who may call the API: `Authorization: Bearer <api_token>`, compared in
//! constant time, unless the operator turned authentication off.

use super::problem::problem;
use super::{ApiRequest, ApiResponse};
use crate::config::{ApiAccess, Secret, SettingsSource};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Compares in constant time (over fixed-size digests, so that the
/// comparison does not reveal the token's length either).
fn token_matches(given: &str, expected: &Secret) -> bool {
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose().as_bytes()))
        .into()
}

/// Lets the request through, or answers why not: `401` for a missing or
/// wrong token, `503` when no token is configured, `500` for a bad setting.
pub(crate) fn authorize(
    request: &ApiRequest<'_>,
    source: &dyn SettingsSource,
) -> Result<(), ApiResponse> {
    let expected = match ApiAccess::load(source) {
        Ok(ApiAccess::Open) => return Ok(()),
        Ok(ApiAccess::Token(token)) => token,
        Ok(ApiAccess::Unconfigured) => {
            return Err(problem(
                503,
                "api-auth-unconfigured",
                "The API has no token",
                "no api_token is configured, so the API issues nothing; set the secret api_token (or api_auth = none to run without authentication)",
            ));
        }
        Err(why) => return Err(problem(500, "config", "API configuration error", why)),
    };
    let given = request.authorization.and_then(bearer_token);
    match given {
        Some(token) if token_matches(token.trim(), &expected) => Ok(()),
        Some(_) => Err(unauthorized("the bearer token is wrong")),
        None => Err(unauthorized("send Authorization: Bearer <api_token>")),
    }
}

fn unauthorized(detail: &str) -> ApiResponse {
    let mut response = problem(401, "unauthorized", "Unauthorized", detail);
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
