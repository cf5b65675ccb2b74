# -*- coding: utf-8 -*-
"""acme2certifier CA handler that delegates to the est-ca-handler component.

The EST work (CSR checks, the EST exchanges, PKCS#7 decoding, chain
building, name checks) runs in the sandboxed est-ca-handler WebAssembly
component, served over HTTP by Spin, ``wasmtime serve`` or
``ca-handler serve``. This module only forwards acme2certifier's calls to
that HTTP API and maps the answers onto acme2certifier's return tuples.

Keys under ``[CAhandler]``::

    handler_module: /path/to/est_component_ca_handler.py
    # where the API is served
    api_url: https://ca-handler.internal:8443
    # or api_token_variable: NAME_OF_ENV_VARIABLE
    api_token: ...
    # True (system roots, the default), False, or a file
    api_ca_bundle: /etc/ssl/api-ca.pem
    # seconds per API call
    request_timeout: 30

Errors are returned as values, never raised, as acme2certifier expects.
When the component could not reach the EST server, its problem document
names the cause (``dns``, ``tls-untrusted``, ``timeout``, ...) and the
error text ends with a hint chosen by that cause (``CAUSE_HINTS``), never
by the words of the detail.
"""

import functools
import os
from typing import Callable, Dict, List, Optional, Tuple, Union

import requests

from acme2certifier.acme_srv.helper import load_config

SERVER_INTERNAL = "urn:ietf:params:acme:error:serverInternal"
DEFAULT_TIMEOUT = 30
# The component answers within its own request_timeout (at most 3600 s).
MAX_TIMEOUT = 3700


def _as_bool(value: str) -> Optional[bool]:
    """configparser's booleans."""
    lowered = value.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    return None


def _never_raises(failure: Callable[[str], tuple]):
    """Turns an unexpected exception into acme2certifier's error tuple
    (built by ``failure`` from the text), as CA handlers must not raise."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as err:  # pylint: disable=broad-except
                text = "est-ca-handler: unexpected %s in %s: %s" % (
                    err.__class__.__name__,
                    method.__name__,
                    err,
                )
                if self.logger:
                    self.logger.error(text)
                return failure(text)

        return guarded

    return wrap


class Settings(object):
    """The handler's validated [CAhandler] settings."""

    def __init__(self, section: Dict[str, str], environ: Dict[str, str]):
        self.problems: List[str] = []
        self.api_url = (section.get("api_url") or "").strip().rstrip("/")
        if not self.api_url:
            self.problems.append('"api_url" parameter is missing')
        elif not self.api_url.startswith(("https://", "http://")):
            self.problems.append('"api_url" must be an http:// or https:// URL')

        token = (section.get("api_token") or "").strip()
        variable = (section.get("api_token_variable") or "").strip()
        if not token and variable:
            token = (environ.get(variable) or "").strip()
            if not token:
                self.problems.append(
                    '"api_token_variable" names the environment variable "%s", which is not set'
                    % variable
                )
        self.api_token = token

        bundle = (section.get("api_ca_bundle") or "").strip()
        flag = _as_bool(bundle) if bundle else True
        if flag is None:
            if not os.path.isfile(bundle):
                self.problems.append('"api_ca_bundle" file %s does not exist' % bundle)
            self.verify: Union[bool, str] = bundle
        else:
            self.verify = flag

        timeout = (section.get("request_timeout") or "").strip()
        self.timeout = DEFAULT_TIMEOUT
        if timeout:
            try:
                self.timeout = int(timeout)
                if not 1 <= self.timeout <= MAX_TIMEOUT:
                    raise ValueError(timeout)
            except ValueError:
                self.problems.append(
                    '"request_timeout" must be a whole number of seconds from 1 to %d'
                    % MAX_TIMEOUT
                )
                self.timeout = DEFAULT_TIMEOUT

    def error(self) -> Optional[str]:
        """All configuration problems in one text, or None."""
        if not self.problems:
            return None
        return "est-ca-handler component: configuration error: " + "; ".join(
            self.problems
        )


# What a problem document's "type" starts with; the problem's kind follows,
# and the API names it in the Problem-Kind header too.
PROBLEM_TYPE_PREFIX = "urn:est-ca-handler:problem:"

# The problem kind of a CA's refusal of a pending request (a 403 from
# /poll). Kinds are the host's one list (est_ca_handler::api::ProblemKind);
# a test checks every *_KIND here against it.
REJECTED_KIND = "rejected"


class Answer(object):
    """One API answer: status, JSON document (or None), an error text for
    answers that are not successes, and the problem's kind (the
    Problem-Kind header) when there is one."""

    def __init__(
        self,
        status: int,
        document: Optional[dict],
        error: Optional[str],
        kind: Optional[str] = None,
    ):
        self.status = status
        self.document = document or {}
        self.error = error
        self._kind = kind

    @property
    def kind(self) -> str:
        """The problem's kind, from the Problem-Kind header, else from the
        document's type; '' for none."""
        if self._kind:
            return self._kind
        problem_type = str(self.document.get("type") or "")
        if problem_type.startswith(PROBLEM_TYPE_PREFIX):
            return problem_type[len(PROBLEM_TYPE_PREFIX):]
        return ""


# What to look at when the component could not reach the EST server, keyed
# by the problem document's "cause" (the WIT contract's transport-cause
# names). The EST settings named here live in the component's own
# configuration (what `ca-handler serve --config`, Spin variables or
# `wasmtime serve -S config-var` give it), not in this [CAhandler] section.
CAUSE_HINTS = {
    "dns": "check the host name in the component's est_host setting",
    "connection-refused": (
        "nothing listens at the EST server's address: check the port in the"
        " component's est_host setting"
    ),
    "connection-reset": (
        "the EST server closed the connection: check that the component's"
        " est_host is an EST server and that it is up"
    ),
    "tls-untrusted": (
        "the EST server's certificate is not trusted: set the component's"
        " ca_bundle setting to the EST server's CA (PEM)"
    ),
    "tls-alert": (
        "the EST server refused the TLS handshake (%s): check the component's"
        " est_client_cert/est_client_key settings and that the EST server"
        " trusts their issuer"
    ),
    "tls-protocol": (
        "no common TLS version or cipher suite, or an EST server certificate"
        " the component's host does not trust: check the component's"
        " ca_bundle setting and the EST server's TLS settings"
    ),
    "destination-denied": (
        "the component's host allows requests to the component's est_host"
        " setting only"
    ),
    "timeout": (
        "the EST server did not answer within the component's"
        " request_timeout setting"
    ),
}

# TLS alert names (RFC 8446 section 6), for the tls-alert hint.
TLS_ALERTS = {
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    48: "unknown_ca",
    49: "access_denied",
    70: "protocol_version",
    71: "insufficient_security",
    116: "certificate_required",
}


def _cause_hint(document: dict) -> Optional[str]:
    """The hint for a problem document's transport cause, or None (no
    cause, "other", or a cause this module does not know)."""
    cause = document.get("cause")
    if not isinstance(cause, str) or cause not in CAUSE_HINTS:
        return None
    hint = CAUSE_HINTS[cause]
    if cause != "tls-alert":
        return hint
    code = document.get("tls_alert")
    if isinstance(code, bool) or not isinstance(code, int):
        alert = "alert code not reported"
    elif code in TLS_ALERTS:
        alert = "alert %d, %s" % (code, TLS_ALERTS[code])
    else:
        alert = "alert %d" % code
    if code in (70, 71):
        return "the EST server refused the TLS handshake (%s): %s" % (
            alert,
            CAUSE_HINTS["tls-protocol"],
        )
    return hint % alert


def _problem_text(status: int, document: dict) -> str:
    """A problem document as one line: the title, the EST server's status
    when the problem is its answer, the detail, and for a transport
    failure what to look at, chosen by its cause."""
    title = document.get("title") or "HTTP %d" % status
    est_status = document.get("est_status")
    detail = document.get("detail") or ""
    text = "est-ca-handler: %s" % title
    if est_status:
        text += " (EST server answered HTTP %s)" % est_status
    if detail:
        text += ": %s" % detail
    hint = _cause_hint(document)
    if hint:
        text += " (hint: %s)" % hint
    return text


class CAhandler(object):
    """acme2certifier CA handler forwarding to the est-ca-handler HTTP API."""

    def __init__(self, _debug: bool = False, logger: object = None):
        self.logger = logger
        self.settings: Optional[Settings] = None
        self.session: Optional[requests.Session] = None

    def __enter__(self):
        if self.settings is None:
            self._config_load()
        return self

    def __exit__(self, *args):
        if self.session is not None:
            self.session.close()
            self.session = None

    def _config_load(self):
        """Reads [CAhandler] from acme2certifier's configuration."""
        unreadable = None
        try:
            config = load_config(self.logger, "CAhandler")
            section = dict(config["CAhandler"]) if "CAhandler" in config else {}
        except Exception as err:  # pylint: disable=broad-except
            section, unreadable = {}, "%s: %s" % (err.__class__.__name__, err)
        self.settings = Settings(section, dict(os.environ))
        if unreadable:
            self.settings.problems.insert(0, "the configuration could not be read (%s)" % unreadable)
        if self.settings.error():
            self.logger.error("CAhandler._config_load(): %s", self.settings.error())
        self.session = requests.Session()

    def _call(self, method: str, path: str, payload: Optional[dict] = None) -> Answer:
        """One API call. Transport failures and unreadable answers become
        an Answer with status 0 and an error text; nothing is raised."""
        settings = self.settings
        if settings is None or settings.error():
            return Answer(0, None, settings.error() if settings else "not configured")
        headers = {"Accept": "application/json"}
        if settings.api_token:
            headers["Authorization"] = "Bearer " + settings.api_token
        url = settings.api_url + path
        try:
            response = (self.session or requests).request(
                method,
                url,
                json=payload,
                headers=headers,
                verify=settings.verify,
                timeout=settings.timeout,
            )
        except requests.exceptions.RequestException as err:
            # The exception text names the URL, never the token.
            return Answer(
                0,
                None,
                "est-ca-handler: the component API at %s could not be reached: %s"
                % (settings.api_url, err.__class__.__name__ + ": " + str(err)),
            )
        try:
            document = response.json() if response.content else {}
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            return Answer(
                response.status_code,
                None,
                "est-ca-handler: the component API answered HTTP %d with a body that is not JSON"
                % response.status_code,
            )
        if response.status_code in (200, 202, 204):
            return Answer(response.status_code, document, None)
        return Answer(
            response.status_code,
            document,
            _problem_text(response.status_code, document),
            response.headers.get("Problem-Kind"),
        )

    def _issued(self, answer: Answer) -> Tuple[Optional[str], Optional[str], Optional[str]]:
        """(error, cert_bundle, cert_raw) of a 200 answer; its warnings
        are logged."""
        warnings = answer.document.get("warnings")
        for warning in warnings if isinstance(warnings, list) else []:
            self.logger.warning("est-ca-handler: %s", warning)
        bundle = answer.document.get("cert_bundle")
        raw = answer.document.get("cert_raw")
        if not bundle or not raw:
            return ("est-ca-handler: the component API's answer has no certificate", None, None)
        return (None, bundle, raw)

    @_never_raises(lambda text: (text, None, None, None))
    def enroll(self, csr: str) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str]]:
        """Enrolls the CSR: (error, cert_bundle, cert_raw, poll_identifier)."""
        self.logger.debug("CAhandler.enroll()")
        answer = self._call("POST", "/enroll", {"csr": csr})
        if answer.status == 202:
            identifier = answer.document.get("poll_identifier")
            self.logger.info(
                "CAhandler.enroll(): pending at the CA, retry after %s s",
                answer.document.get("retry_after"),
            )
            if identifier:
                return (None, None, None, identifier)
            return ("est-ca-handler: pending answer without a poll identifier", None, None, None)
        if answer.status == 200:
            error, bundle, raw = self._issued(answer)
            return (error, bundle, raw, None)
        self.logger.error("CAhandler.enroll(): %s", answer.error)
        return (answer.error, None, None, None)

    @_never_raises(lambda text: (text, None, None, None, False))
    def poll(
        self, cert_name: str, poll_identifier: str, csr: str
    ) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str], bool]:
        """Asks again for a pending certificate:
        (error, cert_bundle, cert_raw, poll_identifier, rejected)."""
        self.logger.debug("CAhandler.poll(%s)", cert_name)
        answer = self._call(
            "POST", "/poll", {"poll_identifier": poll_identifier, "csr": csr}
        )
        if answer.status == 200:
            error, bundle, raw = self._issued(answer)
            return (error, bundle, raw, poll_identifier, False)
        if answer.status == 202:
            return (None, None, None, poll_identifier, False)
        if answer.status == 403 and answer.kind == REJECTED_KIND:
            self.logger.error("CAhandler.poll(): %s", answer.error)
            return (answer.error, None, None, poll_identifier, True)
        self.logger.error("CAhandler.poll(): %s", answer.error)
        return (answer.error, None, None, poll_identifier, False)

    @_never_raises(lambda text: (500, SERVER_INTERNAL, text))
    def revoke(self, cert: str, rev_reason: str = "", rev_date: str = "") -> Tuple[int, str, str]:
        """Revocation: (code, message, detail) as the component answers."""
        self.logger.debug("CAhandler.revoke()")
        answer = self._call(
            "POST", "/revoke", {"cert": cert, "reason": rev_reason, "date": rev_date}
        )
        if answer.status in (200, 204):
            return (200, None, None)
        if answer.status and answer.document.get("type"):
            code = answer.document.get("status")
            return (
                code if isinstance(code, int) else answer.status,
                str(answer.document["type"]),
                str(answer.document.get("detail") or ""),
            )
        return (500, SERVER_INTERNAL, answer.error or "unknown error")

    @_never_raises(lambda text: (text, None, None))
    def trigger(self, payload: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
        """Triggers: (error, cert_bundle, cert_raw)."""
        self.logger.debug("CAhandler.trigger()")
        answer = self._call("POST", "/trigger", {"payload": payload})
        if answer.status == 200:
            return self._issued(answer)
        return (answer.error, None, None)

    @_never_raises(lambda text: text)
    def handler_check(self) -> Optional[str]:
        """None when the component API is up and configured; else why not."""
        self.logger.debug("CAhandler.handler_check()")
        answer = self._call("GET", "/health")
        if answer.status == 200:
            warnings = answer.document.get("warnings")
            for warning in warnings if isinstance(warnings, list) else []:
                self.logger.warning("est-ca-handler: %s", warning)
            return None
        return answer.error
