# -*- coding: utf-8 -*-
"""acme2certifier CA handler: est-ca-handler in-process.

In ``acme_srv.cfg``::

    [CAhandler]
    handler_module: est_ca_handler.acme2certifier
    est_host: https://est.example.com:8443
    est_user: estuser
    est_password_variable: EST_PASSWORD
    ca_bundle: /etc/est/ca.pem

It reads the ``[CAhandler]`` keys of acme2certifier's own
``est_ca_handler.py`` (``est_host``, ``est_user``, ``est_password`` and
their ``_variable`` forms, ``est_client_cert``, ``est_client_key``,
``cert_passphrase`` (and ``cert_passphrase_variable``), ``ca_bundle``,
``request_timeout``) and est-ca-handler's own (``est_label``,
``est_names_check``, ``est_insecure_http``); so switching from
``est_ca_handler.py`` is a change of the ``handler_module`` line. Under
``multi_handler`` it is one of the ``[CAhandler:<name>]`` handlers like
any other: acme2certifier hands it that section as ``[CAhandler]``.

The EST work runs in the est-ca-handler WebAssembly component, in this
process (``est_ca_handler.Handler``). Errors are returned as
acme2certifier's tuples, never raised. A failure's text carries the CA's
own words and a hint chosen by the kind of failure (the exception's class
and, for a transport failure, its cause).
"""

import functools
import logging
import weakref
from typing import Any, Callable, Dict, Optional, Tuple

try:  # acme2certifier from PyPI
    from acme2certifier.acme_srv.helper import load_config
except ImportError:  # acme2certifier installed from its repository or packages
    from acme_srv.helper import load_config  # type: ignore[no-redef]

from . import Handler, HandlerError, Issued, Pending, PollRejected, RevocationError
from ._config import settings_from_config

SERVER_INTERNAL = "urn:ietf:params:acme:error:serverInternal"

# The section acme2certifier shows a handler; under multi_handler it holds
# the handler's own [CAhandler:<name>] keys.
SECTION = "CAhandler"


# The settings read from each configuration object acme2certifier handed
# out: id -> (a weak reference to it, the section, the settings).
# acme2certifier keeps one parsed configuration per file and hands the same
# object to every CAhandler, so reading its keys again for every operation
# would only repeat the work; under multi_handler it hands out a fresh
# merged copy each time, which misses, and the cache stays bounded.
_SETTINGS_CACHE: Dict[int, Tuple[Any, str, Dict[str, str]]] = {}
_SETTINGS_CACHE_MAX = 32


def _settings_of(config: Any, section: str) -> Dict[str, str]:
    """``settings_from_config(config, section)``, once per configuration
    object (the same object, not one equal to it)."""
    cached = _SETTINGS_CACHE.get(id(config))
    if cached is not None and cached[0]() is config and cached[1] == section:
        return cached[2]
    settings = settings_from_config(config, section)
    try:
        ref = weakref.ref(config)
    except TypeError:  # not weakly referable: not cached
        return settings
    if len(_SETTINGS_CACHE) >= _SETTINGS_CACHE_MAX:
        _SETTINGS_CACHE.clear()
    _SETTINGS_CACHE[id(config)] = (ref, section, settings)
    return settings


def error_text(error: HandlerError) -> str:
    """What acme2certifier shows (and, with ``ca_error_details_forward``,
    the ACME client sees): the kind of failure, the CA's status and words,
    and the hint for its kind. The hint is the exception's, chosen by its
    class and cause, never by its words."""
    return "est-ca-handler: %s" % error


def _never_raises(failure: Callable[[str], tuple]):
    """Turns an unexpected exception into acme2certifier's error tuple
    (built by ``failure`` from the text): CA handlers must not raise."""

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
                self.logger.error(text)
                return failure(text)

        return guarded

    return wrap


class CAhandler(object):
    """acme2certifier CA handler running est-ca-handler in-process."""

    def __init__(self, _debug: bool = False, logger: Any = None):
        self.logger = logger or logging.getLogger(__name__)
        self.handler: Optional[Handler] = None
        # Why there is no handler: the configuration's error.
        self.config_error: Optional[str] = None

    def __enter__(self):
        if self.handler is None and self.config_error is None:
            self._config_load()
        return self

    def __exit__(self, *args):
        """Nothing to close: connections are pooled per process."""

    def _config_load(self) -> None:
        """Reads [CAhandler] (under multi_handler: the bound section)."""
        try:
            config = load_config(self.logger, SECTION)
            self.handler = Handler(_settings_of(config, SECTION))
        except HandlerError as err:
            self.config_error = error_text(err)
        except Exception as err:  # pylint: disable=broad-except
            self.config_error = "est-ca-handler: the configuration could not be read (%s: %s)" % (
                err.__class__.__name__,
                err,
            )
        if self.config_error:
            self.logger.error("CAhandler._config_load(): %s", self.config_error)

    def _ready(self) -> Handler:
        """The handler, or a ``_NotConfigured`` carrying the error."""
        if self.handler is None and self.config_error is None:
            self._config_load()
        if self.handler is None:
            raise _NotConfigured(self.config_error or "est-ca-handler: not configured")
        return self.handler

    def _failed(self, method: str, error: Exception) -> str:
        text = error.text if isinstance(error, _NotConfigured) else error_text(error)  # type: ignore[arg-type]
        self.logger.error("CAhandler.%s(): %s", method, text)
        return text

    def _issued(self, method: str, issued: Issued) -> Tuple[None, str, str]:
        for warning in issued.warnings:
            self.logger.warning("CAhandler.%s(): est-ca-handler: %s", method, warning)
        return (None, issued.cert_bundle, issued.cert_raw)

    @_never_raises(lambda text: text)
    def handler_check(self) -> Optional[str]:
        """None when the configuration is usable, else why not. The CA is
        not contacted."""
        self.logger.debug("CAhandler.handler_check()")
        try:
            warnings = self._ready().check()
        except (HandlerError, _NotConfigured) as err:
            return self._failed("handler_check", err)
        for warning in warnings:
            self.logger.warning("CAhandler.handler_check(): est-ca-handler: %s", warning)
        return None

    @_never_raises(lambda text: (text, None, None, None))
    def enroll(self, csr: str) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str]]:
        """Enrolls the CSR: (error, cert_bundle, cert_raw, poll_identifier)."""
        self.logger.debug("CAhandler.enroll()")
        try:
            answer = self._ready().enroll(csr)
        except (HandlerError, _NotConfigured) as err:
            return (self._failed("enroll", err), None, None, None)
        if isinstance(answer, Pending):
            self.logger.info(
                "CAhandler.enroll(): pending at the CA, retry after %d s", answer.retry_after
            )
            return (None, None, None, answer.poll_identifier)
        error, bundle, raw = self._issued("enroll", answer)
        return (error, bundle, raw, None)

    @_never_raises(lambda text: (text, None, None, None, False))
    def poll(
        self, cert_name: str, poll_identifier: str, csr: str
    ) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str], bool]:
        """Asks again about a pending request:
        (error, cert_bundle, cert_raw, poll_identifier, rejected)."""
        self.logger.debug("CAhandler.poll(%s)", cert_name)
        try:
            answer = self._ready().poll(poll_identifier, csr, cert_name)
        except (HandlerError, _NotConfigured) as err:
            return (self._failed("poll", err), None, None, poll_identifier, False)
        if isinstance(answer, Pending):
            return (None, None, None, answer.poll_identifier, False)
        if isinstance(answer, PollRejected):
            text = "est-ca-handler: the CA rejected the request: %s" % answer.reason
            self.logger.error("CAhandler.poll(): %s", text)
            return (text, None, None, poll_identifier, True)
        error, bundle, raw = self._issued("poll", answer)
        return (error, bundle, raw, poll_identifier, False)

    @_never_raises(lambda text: (500, SERVER_INTERNAL, text))
    def revoke(
        self, cert: str, rev_reason: str = "unspecified", rev_date: Optional[str] = None
    ) -> Tuple[int, Optional[str], Optional[str]]:
        """Revocation: (code, message, detail); EST has none."""
        self.logger.debug("CAhandler.revoke()")
        try:
            self._ready().revoke(cert, rev_reason or "unspecified", rev_date or "")
        except _NotConfigured as err:
            return (500, SERVER_INTERNAL, err.text)
        except RevocationError as err:
            self.logger.info("CAhandler.revoke(): %s", err.detail)
            return (err.code, err.message, err.detail)
        except HandlerError as err:
            return (500, SERVER_INTERNAL, self._failed("revoke", err))
        return (200, None, None)

    @_never_raises(lambda text: (text, None, None))
    def trigger(self, payload: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
        """A notification from the CA: (error, cert_bundle, cert_raw)."""
        self.logger.debug("CAhandler.trigger()")
        try:
            issued = self._ready().trigger(payload)
        except (HandlerError, _NotConfigured) as err:
            return (self._failed("trigger", err), None, None)
        return self._issued("trigger", issued)


class _NotConfigured(Exception):
    """The configuration could not be loaded; ``text`` says why."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text
