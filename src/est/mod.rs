//! The EST protocol (RFC 7030 §4.1 and §4.2), as plain values: the
//! requests the handler sends ([`request`]), what each answer means
//! ([`answer`]), and the certs-only PKCS#7 those answers carry ([`pkcs7`]).

pub mod answer;
pub mod pkcs7;
pub mod request;

pub use answer::{Answer, interpret};
pub use request::{Endpoint, EstRequest, limits};

#[cfg(test)]
mod tests;
