"""The machine and the versions a run records in meta.json (CPU, kernel, memory, git revision,
library build id, RabbitMQ, librabbitmq, Python packages, message counts), and its one-line form."""

import datetime
import os
import platform
import re
import subprocess

from .common import ROOT
from .running import count_for
from .workloads import CLIENTS, NULL_WORKLOADS, WORKLOADS


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def capture(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def metadata(args, py, lib_dir, rabbit):
    pkgs = capture([py, "-m", "pip", "freeze", "--disable-pip-version-check"]).splitlines() if py else []
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "git": capture(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
        "swiftamqp": capture(["sh", "-c", "readelf -n '%s' | sed -n 's/.*Build ID: //p'" %
                              os.path.join(lib_dir, "libswiftamqp.so.0")]) if lib_dir else "",
        "librabbitmq": capture(["pkg-config", "--modversion", "librabbitmq"]),
        "rabbitmq": rabbit.version if rabbit else None,
        "python": capture([py, "-c", "import sys; print(sys.version.split()[0])"]) if py else "",
        "python_packages": [p for p in pkgs if re.match(r"(aio-pika|aiormq|pamqp|pika|matplotlib)==", p, re.I)],
        "reps": args.reps,
        "scale": args.scale,
        "counts": {("%s/%s/%s" % (t, w.key, c)): count_for(w, c, args.scale, t)
                   for t, wl in (("rabbitmq", WORKLOADS), ("null", NULL_WORKLOADS)) for w in wl for c in CLIENTS},
    }


def machine_line(meta):
    return ("%s, %s cores (nproc), %s GB RAM, Linux %s; swiftamqp %s (library build id %s); RabbitMQ %s, "
            "librabbitmq %s, Python %s, %s; %s") % (
        meta["cpu"], meta["nproc"], meta["memory_gb"], meta["kernel"], meta.get("git"),
        (meta.get("swiftamqp") or "?")[:12], meta.get("rabbitmq"), meta["librabbitmq"], meta.get("python"),
        ", ".join(meta.get("python_packages", [])), meta["date"])
