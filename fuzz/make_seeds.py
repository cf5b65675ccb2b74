#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into
fuzz/seeds/<target>/, from tests/data (the project's copy of the shared
vectors) and the fixtures in crates/fuzz-checks/fixtures. The input
layouts are documented on each target in crates/fuzz-checks/src/. The
committed corpora (fuzz/corpus/<target>/) started from these seeds and were then fuzzed and
minimised (see FUZZING.md).
"""

import base64
import hashlib
import json
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
A2C = DATA / "acme2certifier"
FIX = ROOT / "crates" / "fuzz-checks" / "fixtures"
OUT = ROOT / "fuzz" / "seeds"
DELIM = b"\n--\n"

KEYS = [
    "est_host", "est_host_variable", "est_label", "est_user", "est_user_variable",
    "est_password", "est_password_variable", "est_client_cert", "est_client_key",
    "cert_passphrase", "cert_passphrase_variable", "ca_bundle", "request_timeout",
    "est_insecure_http", "est_names_check", "api_token", "api_token_variable", "api_auth",
]
TOKEN = "fuzz-api-token-Qx7Zk2"


def fixture(name):
    return (FIX / name).read_bytes()


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(size)]) + size
    return head + content


def certs_only(certs):
    signed_data = bytes.fromhex("06092a864886f70d010702")
    data = bytes.fromhex("06092a864886f70d010701")
    inner = b"\x02\x01\x01" + tlv(0x31, b"") + tlv(0x30, data)
    inner += tlv(0xA0, b"".join(certs)) + tlv(0x31, b"")
    return tlv(0x30, signed_data + tlv(0xA0, tlv(0x30, inner)))


def indefinite(certs):
    """The same message with indefinite lengths on the outer layers."""
    der = certs_only(certs)
    # After the OID comes [0] { SignedData }: keep the SignedData, drop its wrapper.
    inner = der[der.index(bytes.fromhex("06092a864886f70d010702")) + 11:]
    hlen = 2 if inner[1] < 0x80 else 2 + (inner[1] & 0x7F)
    signed_data = inner[hlen:]
    return (b"\x30\x80" + bytes.fromhex("06092a864886f70d010702") + b"\xa0\x80"
            + signed_data + b"\x00\x00\x00\x00")


def indefinite_cert(cert):
    """A certificate whose outer SEQUENCE has an indefinite length (BER)."""
    hlen = 2 if cert[1] < 0x80 else 2 + (cert[1] & 0x7F)
    return b"\x30\x80" + cert[hlen:] + b"\x00\x00"


def b64lines(data, width=64, eol=b"\n"):
    flat = base64.b64encode(data)
    return b"".join(flat[i:i + width] + eol for i in range(0, len(flat), width))


def pem(label, data, eol=b"\n"):
    return (b"-----BEGIN " + label + b"-----" + eol + b64lines(data, eol=eol)
            + b"-----END " + label + b"-----" + eol)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def write(target, seeds):
    folder = OUT / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def answer(spec_kind, status=0, cause=0, headers=b"", payload=b""):
    spec = bytes([spec_kind]) + struct.pack(">H", status) + bytes([cause]) + headers
    return spec + DELIM + payload


PKCS7_HEADERS = b"content-type: application/pkcs7-mime; smime-type=certs-only\ncontent-transfer-encoding: base64"


def main():
    der_p7b = (A2C / "certs_der.p7b").read_bytes()
    pem_p7b = (A2C / "certs.p7b").read_bytes()
    csr_vector = (A2C / "csr.der").read_bytes()
    root, issuing, leaf = fixture("root.der"), fixture("issuing.der"), fixture("leaf.der")
    leaf_cn = fixture("leaf-cn-only.der")
    csr = fixture("csr.der")

    write("pkcs7", {
        "a2c-certs-der.p7b": der_p7b,
        "a2c-certs-pem.p7b": pem_p7b,
        "a2c-certs-base64": b64lines(der_p7b),
        "a2c-certs-base64-crlf-76": b64lines(der_p7b, 76, b"\r\n"),
        "a2c-certs-base64-flat": base64.b64encode(der_p7b),
        "fixture-leaf.der": certs_only([leaf]),
        "fixture-chain.der": certs_only([issuing, root]),
        "fixture-chain-base64": b64lines(certs_only([leaf, issuing, root])),
        "fixture-indefinite.ber": indefinite([root]),
        "fixture-empty.der": certs_only([]),
        "fixture-indefinite-cert.ber": certs_only([indefinite_cert(root), issuing]),
        "cms-label.pem": pem(b"CMS", certs_only([leaf])),
        "wrong-label.pem": pem(b"CERTIFICATE", root),
        "html": b"<html><body>Bad gateway</body></html>\n",
    })

    write("csr", {
        "a2c-base64url": b64url(csr_vector),
        "a2c-base64": b64lines(csr_vector),
        "a2c-pem": pem(b"CERTIFICATE REQUEST", csr_vector),
        "a2c.der": csr_vector,
        "fixture-pem-new-crlf": pem(b"NEW CERTIFICATE REQUEST", csr, b"\r\n"),
        "fixture-base64url": b64url(csr),
        "certificate.pem": pem(b"CERTIFICATE", leaf),
        "broken-armour": pem(b"CERTIFICATE REQUEST", csr)[:-30],
        "not-base64": b"%%% not a csr %%%",
    })

    write("pem", {
        "a2c-certs.pem": (A2C / "certs.pem").read_bytes(),
        "a2c-root.pem": (A2C / "root-ca-cert.pem").read_bytes(),
        "a2c-certs.p7b": pem_p7b,
        "cisco-estExampleCA.pem": (DATA / "cisco-estExampleCA.pem").read_bytes(),
        "headers.pem": b"-----BEGIN PKCS7-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\n"
        + b64lines(root) + b"-----END PKCS7-----\n",
        "unterminated.pem": b"-----BEGIN \x1b[31mEVIL\r\n-----\nAAAA\n",
        "base64url": b64url(csr),
    })

    enroll, cacerts = b"\x01", b"\x00"
    write("est_answer", {
        "200-base64": enroll + answer(0, 200, 0, PKCS7_HEADERS, b64lines(der_p7b)),
        "200-pem": cacerts + answer(0, 200, 0, b"content-type: application/pkcs7-mime", pem_p7b),
        "200-der": cacerts + answer(0, 200, 0, b"content-type: application/octet-stream", der_p7b),
        "200-html": enroll + answer(0, 200, 0, b"content-type: text/html; charset=utf-8",
                                    b"<html>login</html>"),
        "202-seconds": enroll + answer(0, 202, 0, b"retry-after: 120", b""),
        "202-date": enroll + answer(0, 202, 0, b"retry-after: Wed, 21 Oct 2099 07:28:00 GMT", b""),
        "202-huge": enroll + answer(0, 202, 0, b"retry-after: 99999999999999", b""),
        "202-cacerts": cacerts + answer(0, 202, 0, b"retry-after: 5", b""),
        "401-escape": enroll + answer(0, 401, 0, b"www-authenticate: Basic",
                                      b"bad \x1b[31mpassword\r\nX-Injected: 1"),
        "302": cacerts + answer(0, 302, 0, b"location: https://elsewhere.test/\r\nest", b""),
        "500": enroll + answer(0, 500, 0, b"content-type: text/html", b"<h1>down</h1>\x00"),
        "fixture": enroll + answer(1),
        "pending": enroll + answer(5, payload=b"30"),
        "transport-alert": enroll + answer(6, 0, 4, b"", b"alert\nhandshake_failure"),
        "too-large": cacerts + answer(7),
    })

    def api(settings, line, headers, body_mode, n_answers, method=b"", path=b"", query=b"",
            auth=b"", ctype=b"", body=b"", answers=()):
        head = bytes([settings, line, headers, body_mode, n_answers])
        parts = [method, path, query, auth, ctype, body] + [a for pair in answers for a in pair]
        return head + DELIM.join(parts)

    # byte 1: method (bits 0-2) | path index << 3 (0 enroll, 1 poll, 2 cacerts, 3 health,
    # 4 revoke, 5 trigger, 7 from the part) | query << 6.
    post, get = 1, 0
    ENROLL, POLL, CACERTS, HEALTH, REVOKE, TRIGGER, CUSTOM = 0, 1, 2, 3, 4, 5, 7
    auth_ok = 1
    fp = "sha256:" + hashlib.sha256(csr).hexdigest()
    split = lambda a: tuple(a.split(DELIM, 1))  # noqa: E731
    write("api", {
        "enroll-pem": api(0, post | ENROLL << 3, auth_ok, 1, 0),
        "enroll-json": api(0, post | ENROLL << 3, auth_ok | 1 << 3, 3, 0),
        "enroll-raw-body": api(0, post | ENROLL << 3, auth_ok, 0, 0,
                               body=pem(b"CERTIFICATE REQUEST", csr)),
        "enroll-pending": api(0, post | ENROLL << 3, auth_ok, 2, 1,
                              answers=[split(answer(5, payload=b"120"))]),
        "enroll-403": api(0, post | ENROLL << 3, auth_ok, 2, 1, answers=[split(answer(
            0, 403, 0, b"content-type: text/plain", b"denied\r\n\x07"))]),
        "enroll-names-error": api(1 << 3, post | ENROLL << 3, auth_ok, 1, 2,
                                  answers=[split(answer(2)), split(answer(2))]),
        "enroll-chain-in-answer": api(0, post | ENROLL << 3, auth_ok, 1, 2,
                                      answers=[split(answer(3)), split(answer(3))]),
        "enroll-cacerts-fails": api(0, post | ENROLL << 3, auth_ok, 1, 3, answers=[
            split(answer(1)), split(answer(6, 0, 8, b"", b"timed out")),
            split(answer(0, 500, 0, b"", b"oops"))]),
        "enroll-timeout": api(0, post | ENROLL << 3, auth_ok, 1, 1,
                              answers=[split(answer(6, 0, 8, b"", b"timed out"))]),
        "enroll-raw-answer": api(0, post | ENROLL << 3, auth_ok, 1, 1, answers=[split(answer(
            0, 200, 0, PKCS7_HEADERS, b64lines(certs_only([leaf_cn, issuing]))))]),
        "poll": api(0, post | POLL << 3, auth_ok, 4, 0),
        "poll-wrong-id": api(0, post | POLL << 3, auth_ok, 5, 0, body=b"sha256:00\n"),
        "poll-rejected": api(0, post | POLL << 3, auth_ok, 4, 1, answers=[split(answer(
            0, 400, 0, b"", b"no such request"))]),
        "cacerts": api(0, get | CACERTS << 3, auth_ok, 0, 0),
        "cacerts-raw": api(0, get | CACERTS << 3, auth_ok, 0, 1, answers=[split(answer(
            0, 200, 0, b"content-type: application/pkcs7-mime", pem_p7b))]),
        "health-live": api(0, get | HEALTH << 3 | 1 << 6, 0, 0, 0),
        "health-broken": api(4, get | HEALTH << 3, 0, 0, 0),
        "revoke": api(0, post | REVOKE << 3, auth_ok, 0, 0),
        "trigger-open": api(1, post | TRIGGER << 3, 0, 0, 0),
        "not-found": api(0, 7 | CUSTOM << 3, 0, 0, 0, method=b"DELETE",
                         path=b"/\x1b[2Jnope\r\n"),
        "wrong-token": api(0, post | ENROLL << 3, 4, 1, 0, auth=b"wrong"),
        "no-token-configured": api(2, post | ENROLL << 3, auth_ok, 1, 0),
        "bad-json": api(0, post | POLL << 3, auth_ok | 1 << 3, 0, 0, body=b"{\"csr\": \x01"),
        "json-csr-text": api(0, post | ENROLL << 3, auth_ok, 6, 0, body=b"-----BEGIN X"),
    })

    def config(pairs, env=(), fail=None):
        head = bytes([1 if fail else 0, fail[0] if fail else 0])
        parts = [fail[1]] if fail else []
        for key, value in pairs:
            spec = bytes([KEYS.index(key)]) if key in KEYS else b"\xc0" + key
            parts += [spec, value]
        for name, value in env:
            parts += [b"\xe0" + name, value]
        return head + DELIM.join(parts)

    basic = [("est_host", b"https://est.example.com:8443/prefix"), ("est_user", b"acme"),
             ("est_password", b"secret"), ("api_token", TOKEN.encode())]
    write("config", {
        "basic": config(basic),
        "client-cert": config([("est_host", b"https://[2001:db8::1]:8443"),
                               ("est_client_cert", b"/etc/c.p12"),
                               ("cert_passphrase_variable", b"P12"), ("ca_bundle", b"False")],
                              env=[(b"P12", b"pass")]),
        "variables": config([("est_host_variable", b"EST_HOST"), ("est_user_variable", b"U"),
                             ("est_password_variable", b"PW"), ("api_token_variable", b"TOK"),
                             ("est_label", b"arbitrary-label"), ("request_timeout", b"3600")],
                            env=[(b"EST_HOST", b"https://est.test"), (b"U", b"user"),
                                 (b"PW", b"pw"), (b"TOK", b"tok")]),
        "insecure-http": config([("est_host", b"http://sidecar:8080"),
                                 ("est_insecure_http", b"yes"), ("est_user", b"u"),
                                 ("est_password", b"p"), ("est_names_check", b"off"),
                                 ("api_auth", b"none")]),
        "everything-wrong": config([("est_host", b"https://u:pw@host\r\n/x?y"),
                                    ("est_label", b"../\x1b"), ("est_user", b"a:b"),
                                    ("est_password", b"secret"), ("est_client_cert", b"c"),
                                    ("ca_bundle", b"False"), ("request_timeout", b"0x10"),
                                    ("est_insecure_http", b"maybe"),
                                    ("est_names_check", b"\x07loud"), ("api_auth", b"sometimes"),
                                    (b"unknown_key", b"value")]),
        "missing-variable": config([("est_host_variable", b"NOPE\x1b[31m"),
                                    ("est_password_variable", b"ALSO_NOPE")]),
        "store-fails": config(basic, fail=(0, b"store unavailable\nretry")),
    })


if __name__ == "__main__":
    main()
