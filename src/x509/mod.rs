//! The X.509 side of an enrollment: the CSR that comes in, the names it
//! asks for, the chain the issued certificate goes out with, and
//! distinguished names in words.

pub mod chain;
pub mod csr;
pub mod dn;
pub mod names;
mod tlv;
