"""Building what a run needs: the library (through the project's CMake build), the C bench
programs and the null broker (bench/.build), and bench/.venv with the pinned requirements."""

import hashlib
import os
import subprocess
import sys

from .common import BENCH, OUT, ROOT, VENV, die, run_cmd, say


def newer(target, sources):
    if not os.path.exists(target):
        return True
    t = os.path.getmtime(target)
    return any(os.path.getmtime(s) > t for s in sources)


def build_library(args):
    """The release libswiftamqp.so through the project's CMake build (it runs swift build)."""
    lib_dir = os.path.abspath(args.lib_dir or os.path.join(args.build_dir, "lib"))
    if not args.no_build and not args.lib_dir:
        build_dir = os.path.abspath(args.build_dir)
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            say("configuring %s (Release)" % build_dir)
            run_cmd(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"])
        say("building libswiftamqp (cmake --build --target swiftamqp)")
        targets = ["swiftamqp"] + (["rabbitmq_compat"] if "librabbitmq-compat" in args.clients else [])
        r = run_cmd(["cmake", "--build", build_dir, "--target"] + targets, check=False)
        if r.returncode:
            die("the library did not build; fix it, or rerun with --no-build to use the library already built")
    so = os.path.join(lib_dir, "libswiftamqp.so.0")
    if not os.path.exists(so):
        die("%s not found (build it, or give --lib-dir)" % so)
    return lib_dir


def pkg_config(*args):
    r = subprocess.run(["pkg-config"] + list(args), capture_output=True, text=True)
    if r.returncode:
        die("pkg-config %s failed: install librabbitmq-dev (scripts/setup)" % " ".join(args))
    return r.stdout.split()


def build_programs(lib_dir):
    os.makedirs(OUT, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    flags = ["-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror"]
    c = os.path.join(BENCH, "c")
    header = os.path.join(c, "bench.h")
    ours = os.path.join(OUT, "bench-swiftamqp")
    lib_file = os.path.join(lib_dir, "libswiftamqp.so.0")
    programs = [
        (ours, [os.path.join(c, "bench_swiftamqp.c")], [header, os.path.join(ROOT, "include", "swiftamqp.h"), lib_file],
         ["-I", os.path.join(ROOT, "include"), "-L", lib_dir, "-lswiftamqp", "-Wl,-rpath," + lib_dir]),
        (os.path.join(OUT, "bench-librabbitmq"), [os.path.join(c, "bench_librabbitmq.c")], [header],
         pkg_config("--cflags", "--libs", "librabbitmq")),
        (os.path.join(OUT, "nullbroker"), [os.path.join(c, "nullbroker.c"), os.path.join(c, "nullbroker_protocol.c")],
         [os.path.join(c, "nullbroker.h")], []),
    ]
    stamp = os.path.join(OUT, "lib-dir")
    old_lib = open(stamp).read() if os.path.exists(stamp) else ""
    for target, srcs, deps, extra in programs:
        if newer(target, srcs + deps) or (target == ours and old_lib != lib_dir):
            say("cc %s" % os.path.relpath(target, ROOT))
            run_cmd([cc] + flags + ["-o", target] + srcs + extra)
    with open(stamp, "w") as f:
        f.write(lib_dir)


def ensure_venv(quiet=False):
    """bench/.venv with the pinned requirements; reinstalled only when they change."""
    req = os.path.join(BENCH, "requirements.txt")
    py = os.path.join(VENV, "bin", "python")
    digest = hashlib.sha256(open(req, "rb").read()).hexdigest()
    stamp = os.path.join(VENV, ".requirements.sha256")
    if os.path.exists(py) and os.path.exists(stamp) and open(stamp).read() == digest:
        return py
    if not os.path.exists(py):
        say("creating bench/.venv")
        run_cmd([sys.executable, "-m", "venv", VENV])
    say("pip install -r bench/requirements.txt")
    run_cmd([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req])
    with open(stamp, "w") as f:
        f.write(digest)
    return py
