"""The est-ca-handler EST (RFC 7030) CA handler, in-process.

The EST work runs in the est-ca-handler WebAssembly component, in the
wasmtime host built into this package: the same sandbox, instance cap and
deadline as ``ca-handler serve``, without a second service.

``Handler(settings)`` takes acme2certifier's ``[CAhandler]`` keys
(``est_host``, ``est_user``, ``est_password``, ``est_client_cert``, ...);
``Handler.from_acme_srv_cfg(path)`` reads them from an ``acme_srv.cfg``.
Its calls return ``Issued``, ``Pending`` or ``PollRejected``, or raise a
``HandlerError`` subclass, one for each kind of failure. The GIL is
released while a call runs, and a process keeps the compiled component and
each configuration's TLS set-up, so a ``Handler`` per operation is cheap.

``est_ca_handler.acme2certifier`` is the acme2certifier CA handler module.
"""

from ._native import (
    PROBLEM_KINDS,
    SETTINGS_KEYS,
    BadCsr,
    CertificateMismatch,
    ConfigError,
    Handler,
    HandlerError,
    HostError,
    Issued,
    LimitExceeded,
    MalformedAnswer,
    NotSupported,
    Pending,
    PollRejected,
    Rejected,
    RevocationError,
    ServerError,
    TransportError,
    Unauthorized,
    __version__,
)

__all__ = [
    "PROBLEM_KINDS",
    "SETTINGS_KEYS",
    "BadCsr",
    "CertificateMismatch",
    "ConfigError",
    "Handler",
    "HandlerError",
    "HostError",
    "Issued",
    "LimitExceeded",
    "MalformedAnswer",
    "NotSupported",
    "Pending",
    "PollRejected",
    "Rejected",
    "RevocationError",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "__version__",
]
