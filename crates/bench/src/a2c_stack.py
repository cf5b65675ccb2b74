"""Times two acme2certifier CA handlers in one warm Python process, taking
turns enrollment by enrollment against the same local EST server:
acme2certifier's own est_ca_handler.py (from the acme2certifier wheel),
and the project's module est_component_ca_handler.py, which forwards each
enrollment to `ca-handler serve` and so to the component.

usage: a2c_stack.py CONFIG MODULE_DIR CSR_FILE ITERATIONS
CONFIG's [CAhandler] holds both handlers' keys (est_* for the first,
api_* for the second). Prints one JSON object: each handler's latencies
(seconds) and its errors.
"""
import json
import logging
import os
import sys
import time

config, module_dir, csr_file, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.environ["ACME_SRV_CONFIGFILE"] = config
sys.path.insert(0, module_dir)
from acme2certifier.cahandlers.est_ca_handler import CAhandler as Acme2certifierEst  # noqa: E402
from est_component_ca_handler import CAhandler as ComponentModule  # noqa: E402

logger = logging.getLogger("a2c-stack")
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.CRITICAL)
csr = open(csr_file, encoding="ascii").read().strip()
handlers = {"acme2certifier": Acme2certifierEst(logger=logger), "module": ComponentModule(logger=logger)}
latencies = {name: [] for name in handlers}
errors = {name: [] for name in handlers}

for handler in handlers.values():
    handler.__enter__()
try:
    # Warm-up: imports, sessions and their first connections are not timed.
    for _ in range(3):
        for name, handler in handlers.items():
            handler.enroll(csr)
    for _ in range(iterations):
        for name, handler in handlers.items():
            start = time.perf_counter()
            error, bundle, raw, _ = handler.enroll(csr)
            took = time.perf_counter() - start
            if error or not bundle or not raw:
                errors[name].append(str(error))
            latencies[name].append(took)
finally:
    for handler in handlers.values():
        handler.__exit__(None, None, None)
print(json.dumps({"latencies": latencies, "errors": {k: v[:3] for k, v in errors.items()},
                  "error_counts": {k: len(v) for k, v in errors.items()}}))
