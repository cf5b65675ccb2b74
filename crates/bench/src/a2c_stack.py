"""Times three acme2certifier CA handlers in one warm Python process against
the same local EST server: acme2certifier's own est_ca_handler.py (from the
acme2certifier wheel), the project's HTTP module est_component_ca_handler.py,
which forwards each enrollment to `ca-handler serve` and so to the
component, and the in-process module est_ca_handler.acme2certifier (the
component in this process, from the est-ca-handler wheel).

As acme2certifier does, every enrollment builds a new CAhandler and enters
it as a context manager, for all three handlers alike.

usage: a2c_stack.py CONFIG MODULE_DIR CSR_FILE ITERATIONS BURST THREADS ROUNDS
CONFIG's [CAhandler] holds the handlers' keys (est_* for the EST server,
api_* for the HTTP module). Latency: ITERATIONS enrollments per handler,
the handlers taking turns enrollment by enrollment. Throughput: THREADS
threads enroll BURST times in all through one handler, the handlers taking
turns phase by phase, ROUNDS rounds. Prints one JSON object: each handler's
latencies (seconds), its phases' enrollments/s and its errors.
"""
import json
import logging
import os
import sys
import threading
import time

config, module_dir, csr_file = sys.argv[1], sys.argv[2], sys.argv[3]
iterations, burst, threads, rounds = (int(a) for a in sys.argv[4:8])
os.environ["ACME_SRV_CONFIGFILE"] = config
sys.path.insert(0, module_dir)
from acme2certifier.cahandlers.est_ca_handler import CAhandler as Acme2certifierEst  # noqa: E402
from est_component_ca_handler import CAhandler as ComponentModule  # noqa: E402
from est_ca_handler.acme2certifier import CAhandler as InProcess  # noqa: E402

logger = logging.getLogger("a2c-stack")
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.CRITICAL)
csr = open(csr_file, encoding="ascii").read().strip()
handlers = {"acme2certifier": Acme2certifierEst, "module": ComponentModule, "inprocess": InProcess}
latencies = {name: [] for name in handlers}
per_sec = {name: [] for name in handlers}
errors = {name: [] for name in handlers}
lock = threading.Lock()


def enroll(name):
    """One enrollment as acme2certifier makes it: a new handler, entered."""
    with handlers[name](logger=logger) as handler:
        error, bundle, raw, _ = handler.enroll(csr)
    if error or not bundle or not raw:
        with lock:
            errors[name].append(str(error))


# Warm-up: imports, the component's compilation, pools and their first
# connections are not timed.
for _ in range(3):
    for name in handlers:
        enroll(name)

for _ in range(iterations):
    for name in handlers:
        start = time.perf_counter()
        enroll(name)
        latencies[name].append(time.perf_counter() - start)


def worker(name, count):
    for _ in range(count):
        enroll(name)


per_thread = [burst // threads + (1 if i < burst % threads else 0) for i in range(threads)]
for _ in range(rounds):
    for name in handlers:
        pool = [threading.Thread(target=worker, args=(name, n)) for n in per_thread]
        begin = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        per_sec[name].append(burst / (time.perf_counter() - begin))

print(json.dumps({"latencies": latencies, "per_sec": per_sec,
                  "errors": {k: v[:3] for k, v in errors.items()},
                  "error_counts": {k: len(v) for k, v in errors.items()}}))
