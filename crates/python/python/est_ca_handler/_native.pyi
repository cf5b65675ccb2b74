"""Type stubs of the extension module (see ``est_ca_handler``)."""

import os
from typing import Dict, List, Mapping, Optional, Union

__version__: str
SETTINGS_KEYS: List[str]
PROBLEM_KINDS: List[str]
"""Every problem kind of the HTTP API, the one list the host keeps."""

class Issued:
    """An issued certificate."""

    @property
    def cert_bundle(self) -> str:
        """The certificate as PEM, then its issuing chain, nearest issuer first."""
    @property
    def cert_raw(self) -> str:
        """The certificate alone: base64 of its DER on one line."""
    @property
    def warnings(self) -> List[str]:
        """What the operator should know about it; empty when all is well."""

class Pending:
    """The CA has not issued yet: call ``Handler.poll`` later."""

    @property
    def poll_identifier(self) -> str: ...
    @property
    def retry_after(self) -> int:
        """Seconds the CA asked to wait before asking again."""

class PollRejected:
    """The CA refused a pending request for good."""

    @property
    def reason(self) -> str: ...

class Handler:
    """The est-ca-handler component for one configuration."""

    def __init__(self, settings: Mapping[str, str]) -> None: ...
    @classmethod
    def from_acme_srv_cfg(
        cls, path: Union[str, "os.PathLike[str]"], section: str = "CAhandler"
    ) -> "Handler": ...
    def check(self) -> List[str]:
        """Checks the configuration without contacting the CA: warnings."""
    def ca_certs(self) -> List[str]: ...
    def enroll(self, csr: str) -> Union[Issued, Pending]: ...
    def poll(
        self, poll_identifier: str, csr: str, cert_name: Optional[str] = None
    ) -> Union[Issued, Pending, PollRejected]: ...
    def revoke(self, cert: str, reason: str = "unspecified", date: str = "") -> None: ...
    def trigger(self, payload: str) -> Issued: ...

class HandlerError(Exception):
    """Why a call failed; the base of every exception of this package."""

    detail: str
    """What went wrong, in the CA's words where it answered."""
    status: Optional[int]
    """The HTTP status the CA answered with (Unauthorized, Rejected, ServerError)."""
    cause: Optional[str]
    """TransportError: "dns", "connection-refused", "connection-reset",
    "tls-untrusted", "tls-alert", "tls-protocol", "destination-denied",
    "timeout" or "other"."""
    tls_alert: Optional[int]
    """TransportError with cause "tls-alert": the alert's code, when known."""
    hint: Optional[str]
    """What to look at, chosen by the kind of failure."""
    kind: Optional[str]
    """The failure's problem kind, as the HTTP API names it in a problem
    document's ``type`` (one of ``PROBLEM_KINDS``: "config", "bad-csr",
    "unauthorized", "rejected", "server-error", "transport", "timeout",
    "malformed-answer", "certificate-mismatch", "not-supported"); None for
    the host's own failures and revocation."""

class ConfigError(HandlerError): ...
class BadCsr(HandlerError): ...
class Unauthorized(HandlerError): ...
class Rejected(HandlerError): ...
class ServerError(HandlerError): ...
class TransportError(HandlerError): ...
class MalformedAnswer(HandlerError): ...
class CertificateMismatch(HandlerError): ...
class NotSupported(HandlerError): ...

class RevocationError(HandlerError):
    code: int
    """The HTTP status the ACME server should answer with."""
    message: str
    """An ACME error type URN."""

class HostError(HandlerError): ...
class LimitExceeded(HostError): ...

def _process_stats() -> Dict[str, Optional[int]]: ...

