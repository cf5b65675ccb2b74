//! The API's routes, and the method each takes.

use super::kind::ProblemKind;
use super::message::ApiResponse;
use super::problem::problem;

/// A route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /enroll`
    Enroll,
    /// `POST /poll`
    Poll,
    /// `GET /cacerts`
    CaCerts,
    /// `GET /health`
    Health,
    /// `POST /revoke`
    Revoke,
    /// `POST /trigger`
    Trigger,
}

impl Route {
    /// Every route, for documentation and tests.
    pub const ALL: [Route; 6] = [
        Self::Enroll,
        Self::Poll,
        Self::CaCerts,
        Self::Health,
        Self::Revoke,
        Self::Trigger,
    ];

    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Enroll => "/enroll",
            Self::Poll => "/poll",
            Self::CaCerts => "/cacerts",
            Self::Health => "/health",
            Self::Revoke => "/revoke",
            Self::Trigger => "/trigger",
        }
    }

    /// The one method the route takes.
    pub fn method(self) -> &'static str {
        match self {
            Self::CaCerts | Self::Health => "GET",
            Self::Enroll | Self::Poll | Self::Revoke | Self::Trigger => "POST",
        }
    }

    /// Whether callers must present the API token: every route but
    /// `/health`, which answers anyone whether the configuration loads and
    /// keeps the rest for callers with the token.
    pub fn needs_token(self) -> bool {
        self != Self::Health
    }

    /// The route for `method` (exactly as sent: `post` is not `POST`) and
    /// `path`, or the `404` / `405` answer (`405` with `Allow` for any
    /// other method on a known path, an unknown method among them).
    pub fn resolve(method: &str, path: &str) -> Result<Self, ApiResponse> {
        let Some(route) = Self::ALL.into_iter().find(|r| r.path() == path) else {
            return Err(problem(
                404,
                ProblemKind::NotFound,
                "Not found",
                format!("no route {}", crate::text::SafeText::new(path, 200)),
            ));
        };
        if method != route.method() {
            let mut detail = format!("{} takes {}", route.path(), route.method());
            if method.eq_ignore_ascii_case(route.method()) {
                // RFC 9110 §9.1: method names are case-sensitive.
                detail = format!(
                    "{detail}, not {} (methods are case-sensitive)",
                    crate::text::SafeText::new(method, 16)
                );
            }
            let mut response = problem(
                405,
                ProblemKind::MethodNotAllowed,
                "Method not allowed",
                detail,
            );
            response.headers.push(("allow", route.method().into()));
            return Err(response);
        }
        Ok(route)
    }
}
