# -*- coding: utf-8 -*-
"""Tests of est_component_ca_handler against live component APIs.

Run by crates/host/tests/acme2certifier.rs, which starts the local EST
servers and the host's `serve` in front of the real component, and passes
their addresses in the environment (CauseHintTest needs none of them: it
runs alone with `python -m unittest
test_est_component_ca_handler.CauseHintTest`):

    ESTC_API_OK       a correct EST server
    ESTC_API_PENDING  answers each CSR's first enrollment with 202
    ESTC_API_REJECT   refuses enrollments with 400 and a reason
    ESTC_API_NAMES    leaves the CSR's SANs out of certificates
    ESTC_API_DOWN     a closed port
    ESTC_API_UNTRUSTED  a component that does not trust its EST server's
                      certificate (ca_bundle unset: public roots only)
    ESTC_API_TOKEN    the APIs' bearer token
    ESTC_REJECT_TEXT  the reject server's reason
"""

import base64
import logging
import os
import sys
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import est_component_ca_handler as module  # noqa: E402

TOKEN = os.environ.get("ESTC_API_TOKEN", "")


def make_csr(cn, sans):
    """A CSR (base64url DER without padding, as acme2certifier passes it)
    and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    builder = builder.add_extension(
        x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
    )
    csr = builder.sign(key, hashes.SHA256())
    der = csr.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(der).decode().rstrip("="), key


class ListHandler(logging.Handler):
    """Keeps log records for assertions."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def text(self, level):
        return "\n".join(
            r.getMessage() for r in self.records if r.levelno == level
        )


class HandlerTest(unittest.TestCase):
    """Each test writes an acme_srv.cfg and opens the handler on it."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = ListHandler()
        self.logger = logging.getLogger("estc-test-%s" % self.id())
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.log)

    def tearDown(self):
        self.dir.cleanup()

    def handler(self, api_env="ESTC_API_OK", **keys):
        lines = ["[CAhandler]"]
        values = {"api_url": os.environ[api_env], "api_token": TOKEN}
        values.update(keys)
        for key, value in values.items():
            if value is not None:
                lines.append("%s: %s" % (key, value))
        path = os.path.join(self.dir.name, "acme_srv.cfg")
        with open(path, "w", encoding="utf-8") as cfg:
            cfg.write("\n".join(lines) + "\n")
        os.environ["ACME_SRV_CONFIGFILE"] = path
        try:
            from acme2certifier.acme_srv.helpers.config import load_config_cache_clear

            load_config_cache_clear()
        except ImportError:
            pass
        return module.CAhandler(False, self.logger)

    def test_enroll_returns_bundle_and_raw_as_acme2certifier_expects(self):
        csr, key = make_csr("py.example.test", ["py.example.test", "www.py.example.test"])
        with self.handler() as ca:
            self.assertIsNone(ca.handler_check())
            error, bundle, raw, poll_identifier = ca.enroll(csr)
        self.assertIsNone(error)
        self.assertIsNone(poll_identifier)
        certs = x509.load_pem_x509_certificates(bundle.encode())
        self.assertEqual(len(certs), 3)
        self.assertNotIn("\n", raw)
        self.assertEqual(
            base64.b64decode(raw), certs[0].public_bytes(serialization.Encoding.DER)
        )
        self.assertEqual(
            certs[0].public_key().public_numbers(), key.public_key().public_numbers()
        )
        self.assertEqual(certs[0].issuer, certs[1].subject)

    def test_pending_then_issued_through_poll(self):
        csr, _ = make_csr("pending.example.test", ["pending.example.test"])
        with self.handler("ESTC_API_PENDING") as ca:
            error, bundle, raw, poll_identifier = ca.enroll(csr)
            self.assertEqual((error, bundle, raw), (None, None, None))
            self.assertTrue(poll_identifier.startswith("sha256:"), poll_identifier)
            error, bundle, raw, kept, rejected = ca.poll("cert-1", poll_identifier, csr)
        self.assertIsNone(error)
        self.assertFalse(rejected)
        self.assertEqual(kept, poll_identifier)
        self.assertIn("-----BEGIN CERTIFICATE-----", bundle)
        self.assertTrue(raw)

    def test_rejection_keeps_the_est_servers_words(self):
        csr, _ = make_csr("rejected.example.test", ["rejected.example.test"])
        reason = os.environ["ESTC_REJECT_TEXT"]
        with self.handler("ESTC_API_REJECT") as ca:
            error, bundle, raw, poll_identifier = ca.enroll(csr)
            self.assertIsNone(bundle)
            self.assertIsNone(raw)
            self.assertIsNone(poll_identifier)
            self.assertIn(reason, error)
            self.assertIn("HTTP 400", error)
            identifier = "sha256:" + "0" * 64
            error, bundle, raw, kept, rejected = ca.poll("cert-2", identifier, csr)
        # The identifier belongs to another CSR: refused before asking the CA.
        self.assertFalse(rejected)
        self.assertIn("does not belong to this CSR", error)

    def test_a_rejected_poll_says_rejected(self):
        csr, _ = make_csr("rejected2.example.test", ["rejected2.example.test"])
        with self.handler("ESTC_API_PENDING") as ca:
            _, _, _, identifier = ca.enroll(csr)
        with self.handler("ESTC_API_REJECT") as ca:
            error, bundle, raw, kept, rejected = ca.poll("cert-3", identifier, csr)
        self.assertTrue(rejected)
        self.assertEqual((bundle, raw, kept), (None, None, identifier))
        self.assertIn(os.environ["ESTC_REJECT_TEXT"], error)

    def test_missing_names_are_logged_as_warnings(self):
        csr, _ = make_csr("names.example.test", ["names.example.test", "alt.example.test"])
        with self.handler("ESTC_API_NAMES") as ca:
            error, bundle, _, _ = ca.enroll(csr)
        self.assertIsNone(error)
        self.assertTrue(bundle)
        self.assertIn("alt.example.test", self.log.text(logging.WARNING))
        with self.handler("ESTC_API_NAMES") as ca:
            # The component's own est_names_check is warn; the check itself
            # is tested in the component. Here: a refusal's words arrive.
            error, _, _, _ = ca.enroll("not a csr")
        self.assertIn("Bad CSR", error)

    def test_revoke_and_trigger_map_the_components_answers(self):
        with self.handler() as ca:
            code, message, detail = ca.revoke("MIIB", "unspecified", "2026-11-28")
            self.assertEqual(
                (code, message, detail),
                (500, "urn:ietf:params:acme:error:serverInternal", "Revocation is not supported."),
            )
            error, bundle, raw = ca.trigger("payload")
        self.assertEqual((bundle, raw), (None, None))
        self.assertIn("Method not implemented.", error)

    def test_a_wrong_token_is_a_clear_error_and_never_echoed(self):
        csr, _ = make_csr("token.example.test", ["token.example.test"])
        with self.handler(api_token="wrong-Token-value") as ca:
            error, bundle, _, _ = ca.enroll(csr)
        self.assertIsNone(bundle)
        self.assertIn("bearer token is wrong", error)
        everything = error + self.log.text(logging.ERROR) + self.log.text(logging.DEBUG)
        self.assertNotIn("wrong-Token-value", everything)
        self.assertNotIn(TOKEN, everything)

    def test_token_from_an_environment_variable(self):
        os.environ["ESTC_TEST_TOKEN_VAR"] = TOKEN
        csr, _ = make_csr("var.example.test", ["var.example.test"])
        with self.handler(api_token=None, api_token_variable="ESTC_TEST_TOKEN_VAR") as ca:
            error, bundle, _, _ = ca.enroll(csr)
        self.assertIsNone(error)
        self.assertTrue(bundle)
        with self.handler(api_token=None, api_token_variable="ESTC_TEST_UNSET_VAR") as ca:
            self.assertIn("ESTC_TEST_UNSET_VAR", ca.handler_check())
            error, _, _, _ = ca.enroll(csr)
        self.assertIn("which is not set", error)

    def test_api_down_fails_handler_check_and_enroll_without_raising(self):
        csr, _ = make_csr("down.example.test", ["down.example.test"])
        with self.handler("ESTC_API_DOWN", request_timeout="5") as ca:
            check = ca.handler_check()
            error, bundle, raw, poll_identifier = ca.enroll(csr)
            code, message, _ = ca.revoke("MIIB")
        self.assertIn("could not be reached", check)
        self.assertIn("could not be reached", error)
        self.assertEqual((bundle, raw, poll_identifier), (None, None, None))
        self.assertEqual((code, message), (500, "urn:ietf:params:acme:error:serverInternal"))

    def test_unexpected_failures_become_error_values(self):
        csr, _ = make_csr("boom.example.test", ["boom.example.test"])
        with self.handler() as ca:

            def explode(*_args, **_kwargs):
                raise RuntimeError("simulated fault")

            ca.session.request = explode
            error, bundle, raw, poll_identifier = ca.enroll(csr)
            self.assertEqual((bundle, raw, poll_identifier), (None, None, None))
            self.assertIn("unexpected RuntimeError in enroll: simulated fault", error)
            self.assertIn("simulated fault", ca.handler_check())
            self.assertEqual(ca.revoke("MIIB")[0], 500)
            self.assertTrue(ca.poll("c", "sha256:00", csr)[0])

    def test_an_unreadable_configuration_is_reported_not_raised(self):
        path = os.path.join(self.dir.name, "broken.cfg")
        with open(path, "w", encoding="utf-8") as cfg:
            cfg.write("[CAhandler\napi_url http://x\n")
        os.environ["ACME_SRV_CONFIGFILE"] = path
        try:
            from acme2certifier.acme_srv.helpers.config import load_config_cache_clear

            load_config_cache_clear()
        except ImportError:
            pass
        with module.CAhandler(False, self.logger) as ca:
            check = ca.handler_check()
            error = ca.enroll("MIIB")[0]
        self.assertTrue(check)
        self.assertEqual(check, error)

    def test_an_untrusted_est_server_gets_the_ca_bundle_hint(self):
        csr, _ = make_csr("untrusted.example.test", ["untrusted.example.test"])
        with self.handler("ESTC_API_UNTRUSTED") as ca:
            # /health does not reach the EST server: the configuration is fine.
            self.assertIsNone(ca.handler_check())
            error, bundle, raw, poll_identifier = ca.enroll(csr)
        self.assertEqual((bundle, raw, poll_identifier), (None, None, None))
        self.assertIn("could not be reached", error)
        self.assertIn("TLS certificate error", error)
        self.assertIn(module.CAUSE_HINTS["tls-untrusted"], error)
        self.assertIn(error, self.log.text(logging.ERROR))

    def test_bad_settings_are_all_reported(self):
        with self.handler(api_url="ftp://x", request_timeout="soon", api_ca_bundle="/nonexistent.pem") as ca:
            check = ca.handler_check()
        self.assertIn('"api_url" must be an http:// or https:// URL', check)
        self.assertIn('"request_timeout" must be a whole number', check)
        self.assertIn('"api_ca_bundle" file /nonexistent.pem does not exist', check)


class FakeResponse(object):
    """What requests returns, for a given status and JSON document."""

    def __init__(self, status, document):
        self.status_code = status
        self._document = document
        self.content = b"{...}"
        # A problem answer names its kind in the head, as the API does.
        kind = str((document or {}).get("type", "")).rpartition(":")[2]
        self.headers = {"Problem-Kind": kind} if status >= 300 and kind else {}

    def json(self):
        return self._document


class FakeSession(object):
    """A requests session that answers every call with one response and
    keeps the calls."""

    def __init__(self, response):
        self.response = response
        self.calls = []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        return self.response

    def close(self):
        pass


def transport_problem(cause, status=502, **extra):
    """A problem document for a transport failure of `cause`, as the
    component's API writes it."""
    document = {
        "type": "urn:est-ca-handler:problem:%s"
        % ("timeout" if cause == "timeout" else "transport"),
        "title": "The EST server could not be reached",
        "status": status,
        "detail": "/simpleenroll: what the host reported",
    }
    if cause is not None:
        document["cause"] = cause
    document.update(extra)
    return document


class CauseHintTest(unittest.TestCase):
    """Hints chosen by the problem document's cause, without a live API."""

    def setUp(self):
        self.log = ListHandler()
        self.logger = logging.getLogger("estc-hint-%s" % self.id())
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.log)

    def answering(self, status, document):
        """A handler whose API answers every call with `document`."""
        ca = module.CAhandler(False, self.logger)
        ca.settings = module.Settings({"api_url": "http://api.test", "api_token": "t"}, {})
        ca.session = FakeSession(FakeResponse(status, document))
        return ca

    def test_every_cause_has_its_hint(self):
        wanted = {
            "dns": "est_host",
            "connection-refused": "check the port",
            "connection-reset": "closed the connection",
            "tls-untrusted": "ca_bundle setting to the EST server's CA",
            "tls-alert": "est_client_cert/est_client_key",
            "tls-protocol": "no common TLS version or cipher suite",
            "destination-denied": "est_host setting only",
            "timeout": "request_timeout",
        }
        self.assertEqual(set(module.CAUSE_HINTS), set(wanted))
        for cause, words in wanted.items():
            text = module._problem_text(502, transport_problem(cause))
            self.assertIn("what the host reported", text)
            self.assertIn(" (hint: ", text, cause)
            self.assertIn(words, text, cause)
            # The EST settings are the component's, not acme2certifier's.
            self.assertIn("component", text.split("(hint: ")[1], cause)

    def test_no_cause_or_an_unknown_one_gives_no_hint(self):
        for document in (
            transport_problem(None),
            transport_problem("other"),
            transport_problem("a-cause-from-a-later-version"),
            transport_problem(["not", "a", "name"]),
            {
                "type": "urn:est-ca-handler:problem:unauthorized",
                "title": "Refused",
                "status": 502,
                "est_status": 401,
                "detail": "TLS certificate error timeout DNS",
            },
        ):
            text = module._problem_text(502, document)
            self.assertNotIn("hint", text, document)

    def test_tls_alerts_are_named(self):
        def hint(**extra):
            return module._problem_text(502, transport_problem("tls-alert", **extra))

        self.assertIn(
            "(alert 48, unknown_ca): check the component's est_client_cert", hint(tls_alert=48)
        )
        self.assertIn("(alert 116, certificate_required)", hint(tls_alert=116))
        self.assertIn("(alert 200)", hint(tls_alert=200))
        self.assertIn("(alert code not reported)", hint())
        version = hint(tls_alert=70)
        self.assertIn("(alert 70, protocol_version)", version)
        self.assertIn("no common TLS version", version)
        self.assertNotIn("est_client_cert", version)
        for odd in ("48", True, None, [48], {"code": 48}):
            self.assertIn("(alert code not reported)", hint(tls_alert=odd), odd)

    def test_enroll_and_poll_errors_carry_the_hint(self):
        ca = self.answering(502, transport_problem("tls-untrusted"))
        error, bundle, raw, poll_identifier = ca.enroll("MIIB")
        self.assertEqual((bundle, raw, poll_identifier), (None, None, None))
        self.assertTrue(
            error.startswith("est-ca-handler: The EST server could not be reached: "), error
        )
        self.assertIn(module.CAUSE_HINTS["tls-untrusted"], error)
        self.assertIn(error, self.log.text(logging.ERROR))

        ca = self.answering(504, transport_problem("timeout", status=504))
        error, _, _, kept, rejected = ca.poll("cert-1", "sha256:00", "MIIB")
        self.assertFalse(rejected)
        self.assertEqual(kept, "sha256:00")
        self.assertIn(module.CAUSE_HINTS["timeout"], error)


if __name__ == "__main__":
    unittest.main()
