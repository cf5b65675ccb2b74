"""What the in-process acme2certifier module adds to the host's own
enrollment: a worker that est-bench drives block by block, so that its
blocks alternate with the host's own blocks in one run.

usage: a2c_overhead.py CONFIG CSR_FILE
Each line on stdin is a count N: the worker enrolls N times through each
of two paths, taking turns, and answers with one JSON line of latencies
(seconds): "package", one `est_ca_handler.Handler` reused (the package's
API alone), and "module", a new acme2certifier `CAhandler` per enrollment,
entered as acme2certifier does. An empty line or the end of stdin ends it.
"""
import json
import logging
import os
import sys
import time

config, csr_file = sys.argv[1], sys.argv[2]
os.environ["ACME_SRV_CONFIGFILE"] = config
from est_ca_handler import Handler, Issued  # noqa: E402
from est_ca_handler._config import acme_srv_cfg_settings  # noqa: E402
from est_ca_handler.acme2certifier import CAhandler  # noqa: E402

logger = logging.getLogger("a2c-overhead")
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.CRITICAL)
csr = open(csr_file, encoding="ascii").read().strip()
handler = Handler(acme_srv_cfg_settings(config))


def package():
    if not isinstance(handler.enroll(csr), Issued):
        raise SystemExit("the package's enrollment was not issued")


def module():
    with CAhandler(logger=logger) as ca_handler:
        error, bundle, raw, _ = ca_handler.enroll(csr)
    if error or not bundle or not raw:
        raise SystemExit("the module's enrollment failed: %s" % error)


paths = {"package": package, "module": module}
for line in sys.stdin:
    count = int(line.strip() or 0)
    if count == 0:
        break
    took = {name: [] for name in paths}
    for _ in range(count):
        for name, enroll in paths.items():
            start = time.perf_counter()
            enroll()
            took[name].append(time.perf_counter() - start)
    print(json.dumps(took), flush=True)
