//! Exit codes, one per kind of outcome, and the way a handler error ends a
//! command.

use est_ca_host::HandlerError;
use est_ca_host::report::explain;
use std::process::ExitCode;

/// The host failed (a file it cannot read, a component it cannot load).
pub const HOST: u8 = 1;
/// The configuration is wrong.
pub const CONFIG: u8 = 3;
/// The CA refused the credentials.
pub const UNAUTHORIZED: u8 = 4;
/// The CA rejected the request (or the CSR is bad).
pub const REJECTED: u8 = 5;
/// The CA will decide later.
pub const PENDING: u8 = 6;
/// The CA could not be reached.
pub const TRANSPORT: u8 = 7;
/// The CA's answer was an error or could not be used.
pub const SERVER: u8 = 8;
/// The handler does not do that.
pub const NOT_SUPPORTED: u8 = 9;

fn exit_code(error: &HandlerError) -> u8 {
    match error {
        HandlerError::Config(_) => CONFIG,
        HandlerError::Unauthorized(_) => UNAUTHORIZED,
        HandlerError::BadCsr(_) | HandlerError::Rejected(_) => REJECTED,
        HandlerError::Transport(_) => TRANSPORT,
        HandlerError::ServerError(_)
        | HandlerError::MalformedAnswer(_)
        | HandlerError::CertificateMismatch(_) => SERVER,
        HandlerError::NotSupported(_) => NOT_SUPPORTED,
    }
}

/// Says what `error` means, and its exit code.
pub fn fail(error: &HandlerError) -> ExitCode {
    eprintln!("error: {}", explain(error));
    ExitCode::from(exit_code(error))
}
