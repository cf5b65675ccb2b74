# -*- coding: utf-8 -*-
"""Drives est_component_ca_handler for tests/secrets.rs: every public call
against one component API, with the right and with a wrong bearer token,
printing every log record (of the module's logger and of the libraries,
urllib3 included) and every return value, as JSON on stdout.

    python secrets_a2c_driver.py MODULE_DIR API_URL CSR_BASE64URL WORK_DIR

The tokens come from the environment variables ESTC_RIGHT_TOKEN and
ESTC_WRONG_TOKEN, which the configuration names (api_token_variable).
"""

import json
import logging
import os
import sys


class Records(logging.Handler):
    """Keeps every record's text."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append("%s %s %s" % (record.levelname, record.name, self.format(record)))


def main():
    module_dir, api_url, csr, work = sys.argv[1:5]
    sys.path.insert(0, module_dir)
    import est_component_ca_handler as module  # noqa: E402

    records = Records()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(records)
    logger = logging.getLogger("est-secrets")
    results = []
    for token in ("ESTC_RIGHT_TOKEN", "ESTC_WRONG_TOKEN"):
        path = os.path.join(work, "acme_srv_%s.cfg" % token.lower())
        with open(path, "w", encoding="utf-8") as cfg:
            cfg.write(
                "[DEFAULT]\ndebug: True\n\n[CAhandler]\napi_url: %s\n"
                "api_token_variable: %s\nrequest_timeout: 30\n" % (api_url, token)
            )
        os.environ["ACME_SRV_CONFIGFILE"] = path
        try:
            from acme2certifier.acme_srv.helpers.config import load_config_cache_clear

            load_config_cache_clear()
        except ImportError:
            pass
        with module.CAhandler(True, logger) as ca:
            calls = [
                ("handler_check", lambda: ca.handler_check()),
                ("enroll", lambda: ca.enroll(csr)),
                ("poll", lambda: ca.poll("cert-1", "sha256:" + "0" * 64, csr)),
                ("revoke", lambda: ca.revoke("MIIB", "unspecified", "")),
                ("trigger", lambda: ca.trigger("payload")),
            ]
            for name, call in calls:
                results.append({"token": token, "call": name, "result": repr(call())})
    print(json.dumps({"results": results, "logs": records.lines}, indent=1))


if __name__ == "__main__":
    main()
