//! Decoding a typical EST answer (base64 certs-only PKCS#7 holding a
//! two-certificate chain, acme2certifier's test vector) and writing its
//! certificates as PEM: the component's CPU work per answer.

use criterion::{Criterion, criterion_group, criterion_main};
use est_ca_handler::encoding;
use est_ca_handler::est::pkcs7;
use std::hint::black_box;

fn decode_and_pem(c: &mut Criterion) {
    let answer =
        encoding::base64_lines(include_bytes!("../tests/data/acme2certifier/certs_der.p7b"));
    c.bench_function("pkcs7 decode + PEM encode (2 certificates)", |b| {
        b.iter(|| {
            let certs = pkcs7::decode_certs_only(black_box(answer.as_bytes())).unwrap();
            let pem: String = certs
                .iter()
                .map(|cert| encoding::pem("CERTIFICATE", cert.der()))
                .collect();
            black_box(pem)
        })
    });
}

criterion_group!(benches, decode_and_pem);
criterion_main!(benches);
