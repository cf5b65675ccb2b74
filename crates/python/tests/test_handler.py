"""est_ca_handler.Handler against local EST servers."""

import base64
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import acme_csr, assert_certifies, basic_settings, env, make_csr, public_der
from cryptography import x509

import est_ca_handler
from est_ca_handler import (
    BadCsr,
    ConfigError,
    Handler,
    HandlerError,
    Issued,
    NotSupported,
    Pending,
    Rejected,
    RevocationError,
    TransportError,
    Unauthorized,
)
from est_ca_handler._native import _process_stats


def test_enroll_with_basic_auth(basic):
    csr, key = make_csr("basic.example.test")
    issued = Handler(basic).enroll(csr)
    assert isinstance(issued, Issued), issued
    assert_certifies(issued, key, "basic.example.test")
    assert issued.warnings == []


def test_enroll_takes_the_csr_as_acme_sends_it(basic):
    csr, key = make_csr("acme.example.test")
    issued = Handler(basic).enroll(acme_csr(csr))
    assert_certifies(issued, key, "acme.example.test")


def test_ca_certs_are_the_servers(basic):
    certs = Handler(basic).ca_certs()
    with open(basic["ca_bundle"]) as handle:
        root = handle.read().strip()
    assert len(certs) >= 2
    assert all(c.startswith("-----BEGIN CERTIFICATE-----") for c in certs)
    assert root in [c.strip() for c in certs]


def test_pem_client_certificate(client_cert):
    csr, key = make_csr("pem-client.example.test")
    issued = Handler(client_cert).enroll(csr)
    assert_certifies(issued, key, "pem-client.example.test")


def test_pkcs12_client_certificate(client_cert):
    settings = dict(client_cert)
    del settings["est_client_key"]
    settings["est_client_cert"] = env("ESTPY_CLIENT_P12")
    settings["cert_passphrase_variable"] = "ESTPY_P12_PASSPHRASE"
    csr, key = make_csr("p12-client.example.test")
    issued = Handler(settings).enroll(csr)
    assert_certifies(issued, key, "p12-client.example.test")


def test_a_wrong_pkcs12_passphrase_is_a_config_error_without_the_passphrase(client_cert):
    settings = dict(client_cert)
    del settings["est_client_key"]
    settings["est_client_cert"] = env("ESTPY_CLIENT_P12")
    settings["cert_passphrase"] = "not-the-Passphrase-42"
    with pytest.raises(ConfigError) as caught:
        Handler(settings)
    assert "not-the-Passphrase-42" not in str(caught.value)
    assert "not-the-Passphrase-42" not in repr(caught.value.args)
    assert "PKCS#12" in caught.value.detail


def test_without_a_client_certificate_the_tls_server_refuses(client_cert):
    settings = dict(client_cert)
    del settings["est_client_cert"], settings["est_client_key"]
    settings.update(est_user="estuser", est_password_variable="ESTPY_PASSWORD")
    csr, _ = make_csr("no-client-cert.example.test")
    with pytest.raises(HandlerError) as caught:
        Handler(settings).enroll(csr)
    # The server ends the handshake (an alert) or answers 401: typed either way.
    error = caught.value
    if isinstance(error, TransportError):
        assert error.cause == "tls-alert", error
        assert "est_client_cert" in error.hint
    else:
        assert isinstance(error, Unauthorized), error
        assert error.status == 401


def test_pending_then_poll():
    handler = Handler(basic_settings("PENDING"))
    csr, key = make_csr("pending.example.test")
    answer = handler.enroll(csr)
    assert isinstance(answer, Pending), answer
    assert answer.retry_after == 1
    assert answer.poll_identifier
    issued = handler.poll(answer.poll_identifier, csr, "cert-name")
    assert isinstance(issued, Issued), issued
    assert_certifies(issued, key, "pending.example.test")


def test_a_refusal_is_rejected_in_the_cas_words():
    csr, _ = make_csr("refused.example.test")
    with pytest.raises(Rejected) as caught:
        Handler(basic_settings("REJECT")).enroll(csr)
    error = caught.value
    assert isinstance(error, HandlerError)
    assert error.status == 400
    assert env("ESTPY_REJECT_TEXT") in error.detail
    assert env("ESTPY_REJECT_TEXT") in str(error)
    assert error.cause is None
    assert error.kind == "rejected"


def test_a_wrong_password_is_unauthorized_and_not_shown(basic):
    settings = dict(basic)
    del settings["est_password_variable"]
    settings["est_password"] = "wrong-Passw0rd-17"
    csr, _ = make_csr("wrong-password.example.test")
    with pytest.raises(Unauthorized) as caught:
        Handler(settings).enroll(csr)
    assert caught.value.status == 401
    assert caught.value.kind == "unauthorized"
    assert "wrong-Passw0rd-17" not in str(caught.value)
    assert "est_password" in caught.value.hint


def test_nothing_listening_is_a_transport_error_with_its_cause(basic):
    settings = dict(basic, est_host=env("ESTPY_DOWN_URL"))
    with pytest.raises(TransportError) as caught:
        Handler(settings).ca_certs()
    error = caught.value
    assert error.cause == "connection-refused"
    assert error.kind == "transport"
    assert error.tls_alert is None
    assert error.status is None
    assert "est_host" in error.hint


def test_a_bad_csr(basic):
    with pytest.raises(BadCsr) as caught:
        Handler(basic).enroll("not a CSR")
    assert caught.value.detail
    assert caught.value.kind == "bad-csr"


def test_check_makes_no_request_and_reports_configuration(basic):
    down = dict(basic, est_host=env("ESTPY_DOWN_URL"))
    assert Handler(down).check() == []
    warnings = Handler(dict(basic, ca_bundle="False")).check()
    assert warnings and any("TLS" in w or "ca_bundle" in w for w in warnings), warnings
    with pytest.raises(ConfigError) as caught:
        Handler({"est_user": "estuser"}).check()
    assert "est_host" in caught.value.detail
    assert caught.value.kind == "config"


def test_revoke_and_trigger_answer_like_acme2certifiers_handler(basic):
    handler = Handler(basic)
    with pytest.raises(RevocationError) as caught:
        handler.revoke("MIIB", "keyCompromise", "2026-01-01T00:00:00Z")
    assert (caught.value.code, caught.value.message, caught.value.detail) == (
        500,
        "urn:ietf:params:acme:error:serverInternal",
        "Revocation is not supported.",
    )
    assert caught.value.kind is None
    with pytest.raises(NotSupported) as refused:
        handler.trigger("payload")
    assert refused.value.kind == "not-supported"


def test_settings_must_be_strings(basic):
    with pytest.raises(TypeError, match="request_timeout"):
        Handler(dict(basic, request_timeout=30))
    with pytest.raises(TypeError):
        Handler({1: "x"})
    with pytest.raises(ConfigError, match="/nonexistent/ca.pem"):
        Handler(dict(basic, ca_bundle="/nonexistent/ca.pem"))


def test_each_failure_names_its_kind_from_the_hosts_one_list(basic):
    # The kinds come from the host's ProblemKind list, the one the HTTP
    # API, its metrics and docs/openapi.yaml use: every exception of a
    # handler's failure names one of them, its class's own.
    kinds = est_ca_handler.PROBLEM_KINDS
    assert len(set(kinds)) == len(kinds) and "transport" in kinds
    down = dict(basic, est_host=env("ESTPY_DOWN_URL"))
    failures = [
        (lambda: Handler(down).ca_certs(), TransportError, "transport"),
        (lambda: Handler(basic).enroll("not a CSR"), BadCsr, "bad-csr"),
        (lambda: Handler({"est_user": "u"}).check(), ConfigError, "config"),
        (lambda: Handler(dict(basic, ca_bundle="/nonexistent")), ConfigError, "config"),
        (lambda: Handler(basic).trigger("x"), NotSupported, "not-supported"),
        (lambda: Handler(basic_settings("REJECT")).enroll(make_csr("k.example.test")[0]), Rejected, "rejected"),
    ]
    for call, cls, kind in failures:
        with pytest.raises(cls) as caught:
            call()
        assert caught.value.kind == kind, caught.value
        assert caught.value.kind in kinds


def test_exceptions_pickle_with_their_fields(basic):
    settings = dict(basic, est_host=env("ESTPY_DOWN_URL"))
    with pytest.raises(TransportError) as caught:
        Handler(settings).ca_certs()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is TransportError
    assert (copy.cause, copy.kind, copy.detail, str(copy)) == (
        caught.value.cause,
        caught.value.kind,
        caught.value.detail,
        str(caught.value),
    )


def test_a_handler_per_call_builds_nothing_new(basic, tmp_path):
    Handler(basic)
    before = _process_stats()
    for _ in range(20):
        Handler(dict(basic))
    after = _process_stats()
    assert after["engines_built"] == before["engines_built"] == 1
    assert after["settings_built"] == before["settings_built"]
    assert after["engine_pid"] == os.getpid()

    # A changed trust bundle is read again.
    bundle = tmp_path / "ca.pem"
    with open(basic["ca_bundle"]) as handle:
        bundle.write_text(handle.read())
    settings = dict(basic, ca_bundle=str(bundle))
    Handler(settings)
    built = _process_stats()["settings_built"]
    Handler(settings)
    assert _process_stats()["settings_built"] == built
    bundle.write_text(bundle.read_text() + "\n")
    Handler(settings)
    assert _process_stats()["settings_built"] == built + 1


def test_second_construction_in_a_fresh_process(basic, capsys):
    """Times the first and the second Handler of a new interpreter (the
    first loads the component), and prints them; no timing is asserted."""
    script = textwrap.dedent(
        """
        import json, sys, time
        from est_ca_handler import Handler, Issued
        from est_ca_handler._native import _process_stats
        settings = json.loads(sys.argv[1])
        start = time.perf_counter()
        Handler(settings)
        first = time.perf_counter() - start
        start = time.perf_counter()
        second = Handler(settings)
        second_s = time.perf_counter() - start
        print(json.dumps({"first_ms": first * 1e3, "second_ms": second_s * 1e3,
                          "stats": _process_stats(),
                          "ca_certs": len(second.ca_certs())}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(basic)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["stats"]["engines_built"] == 1
    assert result["stats"]["settings_built"] == 1
    assert result["ca_certs"] >= 2
    with capsys.disabled():
        print(
            "\nHandler construction in a fresh process: first %.1f ms (loads the component),"
            " second %.3f ms" % (result["first_ms"], result["second_ms"])
        )


def test_calls_release_the_gil():
    """While one thread waits on a slow EST server (1 s), Python code in
    another thread runs on."""
    handler = Handler(basic_settings("SLOW"))
    csr, _ = make_csr("slow.example.test")
    result = []
    call = threading.Thread(target=lambda: result.append(handler.enroll(csr)))
    ticks = 0
    call.start()
    time.sleep(0.2)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and call.is_alive():
        ticks += 1
    call.join(timeout=60)
    assert isinstance(result[0], Issued)
    assert ticks > 1000, "the main thread ran %d loops while the call waited" % ticks


def test_eight_threads_times_32_enrollments(basic, capsys):
    csrs = [make_csr("thread-%d.example.test" % i) for i in range(8)]
    failures = []
    issued = [[] for _ in csrs]

    def work(index):
        csr, _ = csrs[index]
        try:
            for _ in range(32):
                # A Handler per enrollment, as acme2certifier makes them.
                issued[index].append(Handler(basic).enroll(csr))
        except Exception as err:  # pylint: disable=broad-except
            failures.append(repr(err))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - start
    assert not failures, failures
    assert [len(done) for done in issued] == [32] * 8
    serials = set()
    for index, done in enumerate(issued):
        _, key = csrs[index]
        for answer in done:
            assert_certifies(answer, key, "thread-%d.example.test" % index)
            serials.add(answer.cert_raw)
    assert len(serials) == 256, "every enrollment got a certificate of its own"
    with capsys.disabled():
        print("\n8 threads x 32 enrollments: %.2f s" % elapsed)


def test_enroll_fork_enroll(basic):
    """A forked child builds its own runtime and engine and enrolls; the
    parent goes on with its own."""
    handler = Handler(basic)
    csr, key = make_csr("fork.example.test")
    assert_certifies(handler.enroll(csr), key, "fork.example.test")
    parent = os.getpid()
    assert _process_stats()["engine_pid"] == parent

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child
        os.close(read_end)
        try:
            answer = handler.enroll(csr)
            stats = _process_stats()
            report = {
                "issued": isinstance(answer, Issued),
                "cert_raw": answer.cert_raw,
                "engine_pid": stats["engine_pid"],
                "pid": os.getpid(),
            }
        except BaseException as err:  # pylint: disable=broad-except
            report = {"error": repr(err)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)

    os.close(write_end)
    deadline = time.monotonic() + 120
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(child, 9)
            os.waitpid(child, 0)
            pytest.fail("the forked child's enrollment did not finish in 120 s")
        time.sleep(0.05)
    with os.fdopen(read_end) as pipe:
        report = json.loads(pipe.read() or '{"error": "no report"}')
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert "error" not in report, report
    assert report["issued"]
    assert report["engine_pid"] == report["pid"] != parent
    child_leaf = x509.load_der_x509_certificate(base64.b64decode(report["cert_raw"]))
    assert public_der(child_leaf) == public_der(key), "the child's certificate is for the CSR"
    # The parent goes on with its own runtime and engine.
    assert_certifies(handler.enroll(csr), key, "fork.example.test")
    assert _process_stats()["engine_pid"] == parent


def test_the_package_is_typed():
    package = os.path.dirname(est_ca_handler.__file__)
    assert os.path.isfile(os.path.join(package, "py.typed"))
    assert os.path.isfile(os.path.join(package, "_native.pyi"))
