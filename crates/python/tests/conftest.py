"""Fixtures of the est_ca_handler tests: local EST servers that
crates/host/tests/python_package.rs starts (real HTTPS, a real CA) and
names in ESTPY_* environment variables, and CSRs made here."""

import base64
import os
from typing import Dict, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip("%s is not set: run these tests through cargo test (python_package.rs)" % name)
    return value


def basic_settings(server: str) -> Dict[str, str]:
    """Settings for the Basic-auth EST server called ``server``."""
    return {
        "est_host": env("ESTPY_%s_URL" % server),
        "est_user": "estuser",
        "est_password_variable": "ESTPY_PASSWORD",
        "ca_bundle": env("ESTPY_%s_CA" % server),
    }


@pytest.fixture
def basic() -> Dict[str, str]:
    return basic_settings("BASIC")


@pytest.fixture
def client_cert() -> Dict[str, str]:
    """Settings for the EST server that wants a TLS client certificate (PEM)."""
    return {
        "est_host": env("ESTPY_TLS_URL"),
        "est_client_cert": env("ESTPY_CLIENT_CERT"),
        "est_client_key": env("ESTPY_CLIENT_KEY"),
        "ca_bundle": env("ESTPY_TLS_CA"),
    }


def make_csr(name: str) -> Tuple[str, ec.EllipticCurvePrivateKey]:
    """A PEM CSR for ``name`` (CN and DNS SAN) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def acme_csr(csr_pem: str) -> str:
    """The CSR as ACME sends it: base64url DER without padding."""
    der = x509.load_pem_x509_csr(csr_pem.encode()).public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(der).decode().rstrip("=")


def leaf_of(issued) -> x509.Certificate:
    """The issued certificate (from ``cert_raw``), checked against the
    first certificate of ``cert_bundle``."""
    leaf = x509.load_der_x509_certificate(base64.b64decode(issued.cert_raw))
    first = x509.load_pem_x509_certificates(issued.cert_bundle.encode())[0]
    assert first == leaf, "cert_bundle starts with the issued certificate"
    return leaf


def public_der(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def assert_certifies(issued, key, name: str) -> None:
    """The certificate is for ``key`` and ``name``, and the bundle chains
    it to its issuer."""
    leaf = leaf_of(issued)
    assert public_der(leaf) == public_der(key), "the certificate certifies the CSR's key"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [name]
    chain = x509.load_pem_x509_certificates(issued.cert_bundle.encode())
    assert len(chain) >= 2, "the bundle holds the issuing chain"
    assert leaf.issuer == chain[1].subject
    leaf.verify_directly_issued_by(chain[1])
