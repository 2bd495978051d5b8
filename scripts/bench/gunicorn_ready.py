"""Gunicorn settings for the benchmarks: each worker says when its app is loaded, with a file in
$BENCH_READY_DIR, so that measuring starts when every worker serves. (A worker of the real app takes 2-5 s to
import and warm up; a benchmark that started at the first accepted connection measured that boot.)"""

import os
from pathlib import Path


def post_worker_init(worker):
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:
        Path(ready, str(worker.pid)).touch()
