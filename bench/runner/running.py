"""Running the benchmark: the command of each client, the message counts, one measured run
(its result and CPU accounting), the plan of a repetition, the snapshot of the library and the
binding, and the interleaved, repeated runs that write raw.jsonl."""

import json
import os
import random
import resource
import shutil
import subprocess
import time

from .brokers import NullBroker, machine_busy_s, proc_cpu_s
from .common import BENCH, OUT, ROOT, die, say
from .workloads import (CLIENT_SCALE, COMPAT_ENV, NOT_AVAILABLE, NULL_CLIENT_SCALE, NULL_CLIENTS,
                        NULL_WORKLOADS, WORKLOADS)


def client_command(client, url, py):
    if client == "swiftamqp-c":
        return [os.path.join(OUT, "bench-swiftamqp"), "--url", url]
    if client == "librabbitmq":
        return [os.path.join(OUT, "bench-librabbitmq"), "--url", url]
    if client == "librabbitmq-compat":
        if not COMPAT_ENV:
            die("librabbitmq-compat: no compat librabbitmq.so.4 next to the library (cmake --build build)")
        return COMPAT_ENV + [os.path.join(OUT, "bench-librabbitmq"), "--url", url]
    if client == "swiftamqp-py":
        return [py, os.path.join(BENCH, "py", "bench_swiftamqp.py"), "--url", url]
    if client == "aio-pika":
        return [py, os.path.join(BENCH, "py", "bench_aiopika.py"), "--url", url]
    if client in ("python-blocking", "pika"):
        return [py, os.path.join(BENCH, "py", "bench_blocking.py"), "--client", client, "--url", url]
    raise ValueError(client)


def count_for(w, client, scale, target="rabbitmq"):
    per_client = (NULL_CLIENT_SCALE if target == "null" else CLIENT_SCALE)[client]
    n = w.count * scale * (per_client if w.scaled else 1.0)
    return max(100, int(round(n)))


def run_one(cmd, env, timeout, watch_pids):
    """Runs one benchmark process; returns (result dict or None, error text, accounting)."""
    busy0, ch0, t0 = machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    others0 = {k: proc_cpu_s(p) for k, p in watch_pids.items()}
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        out, err, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")) + \
            "\n(timed out after %ds)" % timeout
        rc = -1
    wall = time.monotonic() - t0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    acct = {"process_wall_s": round(wall, 3),
            "process_cpu_s": round((ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime), 3)}
    for k, p in watch_pids.items():
        c1 = proc_cpu_s(p)
        if others0[k] is not None and c1 is not None:
            acct[k + "_cpu_s"] = round(c1 - others0[k], 3)
    busy = machine_busy_s() - busy0
    known = acct["process_cpu_s"] + sum(v for k, v in acct.items() if k.endswith("_cpu_s") and k != "process_cpu_s")
    # CPU the rest of the machine used meanwhile (other developers' builds), in cores.
    acct["foreign_cores"] = round(max(0.0, busy - known) / wall, 2) if wall > 0 else 0.0
    acct["loadavg"] = float(open("/proc/loadavg").read().split()[0])
    result = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
    if rc != 0 or result is None:
        tail = "\n".join(err.strip().splitlines()[-5:]) or "exit status %d, no result" % rc
        return None, tail, acct
    return result, None, acct


def plan(args):
    """[(target, workload, [clients])] in the order of one repetition."""
    cells = []
    if not args.no_rabbitmq:
        for w in WORKLOADS:
            if args.workloads and w.key not in args.workloads:
                continue
            cells.append(("rabbitmq", w, [c for c in args.clients]))
    if not args.no_null:
        for w in NULL_WORKLOADS:
            if args.workloads and w.key not in args.workloads:
                continue
            cs = [c for c in args.clients if c in NULL_CLIENTS]
            if cs:
                cells.append(("null", w, cs))
    return cells


def snapshot(outdir, lib_dir):
    """Copies the library and the Python binding into the results folder and runs everything
    against the copies: other developers may rebuild build/lib or edit bindings/python while the
    benchmark runs, and every run must test the same code."""
    libs = os.path.join(outdir, "lib")
    os.makedirs(libs, exist_ok=True)
    shutil.copyfile(os.path.realpath(os.path.join(lib_dir, "libswiftamqp.so.0")), os.path.join(libs, "libswiftamqp.so.0"))
    compat = os.path.join(os.path.dirname(os.path.abspath(lib_dir)), "compat", "librabbitmq.so.4")
    if os.path.exists(compat):
        cdir = os.path.join(outdir, "compat")
        os.makedirs(cdir, exist_ok=True)
        shutil.copyfile(os.path.realpath(compat), os.path.join(cdir, "librabbitmq.so.4"))
        COMPAT_ENV[:] = ["env", "LD_LIBRARY_PATH=" + os.pathsep.join([cdir, libs])]
    pydir = os.path.join(outdir, "python")
    if os.path.exists(pydir):
        shutil.rmtree(pydir)
    shutil.copytree(os.path.join(ROOT, "bindings", "python", "swiftamqp"), os.path.join(pydir, "swiftamqp"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_install_prefix.py"))
    return libs, pydir


def run_all(args, outdir, py, rabbit):
    env = dict(os.environ)
    libs, pydir = os.path.join(outdir, "lib"), os.path.join(outdir, "python")
    env["PYTHONPATH"] = os.pathsep.join([pydir, os.path.join(BENCH, "py")])
    env["SWIFTAMQP_LIBRARY"] = os.path.join(libs, "libswiftamqp.so.0")
    # Before the programs' RUNPATH (the build folder): the C client loads the snapshot too.
    env["LD_LIBRARY_PATH"] = os.pathsep.join([libs] + [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cells = plan(args)
    total = sum(len(cs) for _, _, cs in cells) * args.reps
    raw = open(os.path.join(outdir, "raw.jsonl"), "w")
    logs = os.path.join(outdir, "logs")
    os.makedirs(logs, exist_ok=True)
    done = 0
    rng = random.Random(args.seed)
    if rabbit and args.warmup:
        # Not recorded: the broker's first connections and queues after boot are slower.
        say("warming up the broker")
        for client in [c for c in ("swiftamqp-c", "librabbitmq") if c in args.clients]:
            for w in WORKLOADS[:1] + WORKLOADS[3:4]:
                run_one(client_command(client, rabbit.url, py) + w.args() + ["--count", "20000"], env,
                        args.timeout, {})
    t_start = time.monotonic()
    for rep in range(args.reps):
        for gi, (target, w, clients) in enumerate(cells):
            # Interleaved: every client runs this workload back to back, in an order that changes
            # from one repetition to the next, so no client always runs first or last.
            order = list(clients)
            rng.shuffle(order)
            for client in order:
                done += 1
                if (client, target, w.key) in NOT_AVAILABLE:
                    continue
                n = count_for(w, client, args.scale, target)
                null = None
                if target == "rabbitmq":
                    url, watch = rabbit.url, {"broker": rabbit.pid}
                else:
                    # A fresh null broker per run; a consumer finds its N messages already queued.
                    null = NullBroker()
                    null.start(preload=(n, w.size) if w.workload == "consume" else None)
                    url, watch = null.url, {"nullbroker": null.pid}
                cmd = client_command(client, url, py) + w.args() + ["--count", str(n)]
                if null and w.workload == "consume":
                    cmd.append("--prefilled")
                try:
                    result, error, acct = run_one(cmd, env, args.timeout, watch)
                finally:
                    if null:
                        null.stop()
                rec = {"rep": rep + 1, "target": target, "key": w.key, "client": client, "ok": result is not None}
                rec.update(acct)
                if result:
                    rec.update(result)
                    b = acct.get("broker_cpu_s")
                    if b is not None and result.get("messages"):
                        # whole process lifetime (setup included): an indication, not a measurement
                        rec["broker_cpu_us_per_msg_process"] = round(b * 1e6 / result["messages"], 2)
                else:
                    rec["error"] = error
                    with open(os.path.join(logs, "%s-%s-%s-%d.txt" % (target, w.key, client, rep + 1)), "w") as f:
                        f.write(" ".join(cmd) + "\n\n" + (error or ""))
                raw.write(json.dumps(rec) + "\n")
                raw.flush()
                elapsed = time.monotonic() - t_start
                shown = ("%9.0f msg/s %8.2f us/msg" % (result["msgs_per_s"], result["cpu_us_per_msg"])
                         if result else "FAILED: " + (error or "").splitlines()[-1][:80])
                say("[%3d/%d %4.0fs] rep %d %-8s %-17s %-13s %s" % (done, total, elapsed, rep + 1, target, w.key,
                                                                    client, shown))
                time.sleep(args.pause)
    raw.close()
