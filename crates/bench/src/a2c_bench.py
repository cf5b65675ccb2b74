"""Times acme2certifier's own EST handler (est_ca_handler.py from the
acme2certifier wheel) enrolling one CSR in a loop inside one warm process.

usage: a2c_bench.py CONFIG CSR_FILE ITERATIONS THREADS
Prints one JSON object: per-enrollment latencies (seconds) and wall time.
"""
import json
import logging
import os
import sys
import threading
import time

config, csr_file, iterations, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.environ["ACME_SRV_CONFIGFILE"] = config
from acme2certifier.cahandlers.est_ca_handler import CAhandler  # noqa: E402

logger = logging.getLogger("a2c-bench")
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.CRITICAL)
csr = open(csr_file, encoding="ascii").read().strip()
latencies = []
errors = []
lock = threading.Lock()


def worker(count):
    with CAhandler(logger=logger) as handler:
        for _ in range(count):
            start = time.perf_counter()
            error, bundle, raw, _ = handler.enroll(csr)
            took = time.perf_counter() - start
            with lock:
                if error or not bundle or not raw:
                    errors.append(str(error))
                latencies.append(took)


# One warm-up enrollment so that imports and the first TLS set-up are not timed.
worker(1)
latencies.clear()
per_thread = [iterations // threads + (1 if i < iterations % threads else 0) for i in range(threads)]
begin = time.perf_counter()
pool = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
for thread in pool:
    thread.start()
for thread in pool:
    thread.join()
wall = time.perf_counter() - begin
print(json.dumps({"latencies": latencies, "wall": wall, "errors": errors[:3], "error_count": len(errors)}))
