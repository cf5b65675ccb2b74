//! The `/cacerts` answer: the canonical one built at start, or the order and
//! the extra certificate the fault knobs ask for.

use crate::answer::{Answer, pkcs7_answer, pkcs7_body, text};
use crate::config::{CacertsOrder, Faults};
use crate::pkcs7;
use crate::state::State;
use hyper::StatusCode;

/// The `/cacerts` answer under `faults`.
pub(crate) fn cacerts(state: &State, faults: &Faults) -> Answer {
    if faults.cacerts_order == CacertsOrder::Canonical && !faults.cacerts_extra {
        return pkcs7_body(state.cacerts.clone());
    }
    let (root, issuing) = (state.ca.root_der(), state.ca.issuing_der());
    let mut certs = match faults.cacerts_order {
        CacertsOrder::Canonical | CacertsOrder::IssuerFirst => vec![issuing, root],
        CacertsOrder::RootFirst => vec![root, issuing],
    };
    if faults.cacerts_extra {
        certs.insert(1, state.extra_cert.clone());
    }
    let der = match faults.cacerts_order {
        CacertsOrder::Canonical => pkcs7::certs_only(&certs),
        _ => pkcs7::certs_only_in_order(&certs),
    };
    match der {
        Ok(der) => pkcs7_answer(&der),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("building /cacerts failed: {e:#}"),
        ),
    }
}
