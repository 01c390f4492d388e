"""Paths of the benchmark (bench/, the repository, the build, venv and results folders), the
benchmark's RabbitMQ node name, and the helpers every part uses: say, die, run_cmd."""

import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, ".build")        # compiled bench programs (ignored by git)
VENV = os.path.join(BENCH, ".venv")        # aio-pika, pika, matplotlib (ignored by git)
RESULTS = os.path.join(BENCH, "results")   # one folder per run (ignored by git)
BROKER_NAME = "swiftamqp-bench"


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def die(msg):
    say(msg)
    sys.exit(1)


def run_cmd(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)
