"""What the Python benchmark clients share with the C ones (bench/c/bench.h): the arguments, the
clock (time.perf_counter and getrusage(RUSAGE_SELF): user + system time of every thread of the
process), percentiles and the one-line JSON result. The workloads are described in bench.h."""

import argparse
import json
import resource
import sys
import time


def parse_args(client):
    p = argparse.ArgumentParser(description="%s benchmark client" % client)
    p.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    p.add_argument("--workload", choices=["publish", "confirm", "consume", "roundtrip"], default="publish")
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--no-ack", action="store_true")
    p.add_argument("--window", type=int, default=1000)
    p.add_argument("--prefetch", type=int, default=1000)
    p.add_argument("--ack-every", type=int, default=100)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--prefilled", action="store_true",
                   help="consume: the queue already holds COUNT messages (null broker --preload)")
    p.add_argument("--client", default=client)
    a = p.parse_args()
    if a.count <= 0 or a.window <= 0 or a.ack_every <= 0 or not 0 <= a.prefetch <= 65535:
        p.error("count, window and ack-every must be positive, prefetch 0..65535")
    return a


def body(size):
    return bytes((ord("a") + i % 26) for i in range(size))


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


class Clock:
    def start(self):
        self.r0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()

    def stop(self):
        self.t1 = time.perf_counter()
        self.r1 = resource.getrusage(resource.RUSAGE_SELF)


def percentile(sorted_values, p):
    """Nearest rank, as bench.h."""
    n = len(sorted_values)
    if not n:
        return 0.0
    rank = max(1, min(n, int(p / 100.0 * n + 0.999999999)))
    return sorted_values[rank - 1]


def report(a, clock, messages, latencies=None, **extra):
    wall = clock.t1 - clock.t0
    user = clock.r1.ru_utime - clock.r0.ru_utime
    sys_ = clock.r1.ru_stime - clock.r0.ru_stime
    out = {
        "client": a.client, "workload": a.workload, "size": a.size, "count": a.count,
        "no_ack": bool(a.no_ack), "messages": messages, "wall_s": round(wall, 6),
        "user_s": round(user, 6), "sys_s": round(sys_, 6),
        "msgs_per_s": round(messages / wall, 1) if wall > 0 else 0.0,
        "cpu_us_per_msg": round((user + sys_) * 1e6 / messages, 4) if messages else 0.0,
        "vcsw": clock.r1.ru_nvcsw - clock.r0.ru_nvcsw, "ivcsw": clock.r1.ru_nivcsw - clock.r0.ru_nivcsw,
    }
    if latencies:
        latencies.sort()
        out["p50_us"] = round(percentile(latencies, 50) * 1e6, 2)
        out["p99_us"] = round(percentile(latencies, 99) * 1e6, 2)
        out["max_us"] = round(latencies[-1] * 1e6, 2)
    out.update(extra)
    print(json.dumps(out), flush=True)
