"""From raw.jsonl to the figures of the report: medians per (target, workload, client), the
markdown table, and the issue's targets checked on the medians."""

import json
import statistics

from .workloads import CLIENTS, NOT_AVAILABLE, NULL_WORKLOADS, REFERENCE, WORKLOADS


def load_raw(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def summarise(records):
    """{(target, key, client): {metric: median, 'n': runs, 'runs': total, ...}}"""
    groups = {}
    for r in records:
        groups.setdefault((r["target"], r["key"], r["client"]), []).append(r)
    out = {}
    for k, rs in groups.items():
        ok = [r for r in rs if r.get("ok")]
        s = {"runs": len(rs), "n": len(ok), "errors": [r.get("error") for r in rs if not r.get("ok")]}
        for m in ("msgs_per_s", "cpu_us_per_msg", "p50_us", "p99_us", "broker_cpu_us_per_msg_process",
                  "foreign_cores"):
            vals = [r[m] for r in ok if r.get(m) is not None]
            if vals:
                s[m] = statistics.median(vals)
                s[m + "_min"], s[m + "_max"] = min(vals), max(vals)
        out[k] = s
    return out


def fmt_num(v, digits=None):
    if v is None:
        return "—"
    if digits is None:
        digits = 0 if v >= 100 else 1 if v >= 10 else 2
    return "{:,.{}f}".format(v, digits)


def fmt_ratio(v, ref):
    if v is None or not ref:
        return "—"
    return "%.2f×" % (v / ref)


def table(summary, targets_order=("rabbitmq", "null")):
    lines = []
    titles = {"rabbitmq": "Against RabbitMQ", "null": "Against the null broker (the client's own limit)"}
    wl = {"rabbitmq": WORKLOADS, "null": NULL_WORKLOADS}
    for target in targets_order:
        ran = {key for (t, key, _) in summary if t == target}
        rows = [(w, c) for w in wl[target] for c in CLIENTS if (target, w.key, c) in summary
                or ((c, target, w.key) in NOT_AVAILABLE and w.key in ran)]
        if not rows:
            continue
        lines.append("**%s** (medians; ratios are to librabbitmq in the same run; spread = (max − min) / median "
                     "of msg/s)" % titles[target])
        lines.append("")
        lines.append("| workload | client | msg/s | msg/s ÷ librabbitmq | client CPU µs/msg | CPU ÷ librabbitmq "
                     "| p50 µs | p99 µs | spread | runs |")
        lines.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        last = None
        for w, c in rows:
            label = w.label if w.key != last else ""
            last = w.key
            na = NOT_AVAILABLE.get((c, target, w.key))
            s = summary.get((target, w.key, c))
            if na or not s or not s["n"]:
                why = na or ("failed: " + (s["errors"][0] or "?").splitlines()[-1][:60] if s else "not run")
                lines.append("| %s | %s | n/a | | | | | | | %s |" % (label, c, why.replace("|", "/")))
                continue
            ref = summary.get((target, w.key, REFERENCE), {})
            spread = ((s["msgs_per_s_max"] - s["msgs_per_s_min"]) / s["msgs_per_s"] * 100) if s["msgs_per_s"] else 0
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %d/%d |" % (
                label, c, fmt_num(s.get("msgs_per_s")), fmt_ratio(s.get("msgs_per_s"), ref.get("msgs_per_s")),
                fmt_num(s.get("cpu_us_per_msg")), fmt_ratio(s.get("cpu_us_per_msg"), ref.get("cpu_us_per_msg")),
                fmt_num(s.get("p50_us")) if "p50_us" in s else "", fmt_num(s.get("p99_us")) if "p99_us" in s else "",
                spread, s["n"], s["runs"]))
        lines.append("")
    return "\n".join(lines)


def targets(summary):
    """The issue's targets, checked on this run's medians: [(text, measured, verdict)]."""
    out = []

    def get(target, key, client, metric):
        return summary.get((target, key, client), {}).get(metric)

    def check(text, value, limit, op, unit=""):
        if value is None or limit is None:
            out.append((text, "not measured", "n/a"))
            return
        ok = value <= limit if op == "<=" else value >= limit
        out.append((text, "%s vs limit %s%s" % (fmt_num(value), fmt_num(limit), unit), "PASS" if ok else "FAIL"))

    R, N = "rabbitmq", "null"
    for key in ("publish-16", "publish-4k", "consume-ack-16", "consume-ack-4k", "consume-noack-16", "consume-noack-4k"):
        ref = get(R, key, REFERENCE, "cpu_us_per_msg")
        check("C API CPU/msg ≤ 0.8 × librabbitmq: %s" % key, get(R, key, "swiftamqp-c", "cpu_us_per_msg"),
              ref * 0.8 if ref else None, "<=", " µs")
    for w in WORKLOADS:
        ref = get(R, w.key, REFERENCE, "msgs_per_s")
        check("C API msg/s ≥ librabbitmq: %s" % w.key, get(R, w.key, "swiftamqp-c", "msgs_per_s"), ref, ">=")
    ref = get(R, "roundtrip-16", REFERENCE, "p50_us")
    check("C API round-trip p50 ≤ 1.2 × librabbitmq", get(R, "roundtrip-16", "swiftamqp-c", "p50_us"),
          ref * 1.2 if ref else None, "<=", " µs")
    for key in ("publish-16", "consume-ack-16"):
        ref = get(R, key, REFERENCE, "msgs_per_s")
        check("Python msg/s ≥ 0.7 × librabbitmq: %s" % key, get(R, key, "swiftamqp-py", "msgs_per_s"),
              ref * 0.7 if ref else None, ">=")
    check("Python CPU/msg ≤ 10 µs: publish-16", get(R, "publish-16", "swiftamqp-py", "cpu_us_per_msg"), 10.0, "<=",
          " µs")
    for key in ("publish-16", "consume-ack-16"):
        ref = get(R, key, "pika", "msgs_per_s")
        check("Blocking msg/s ≥ 5 × pika: %s" % key, get(R, key, "python-blocking", "msgs_per_s"),
              ref * 5 if ref else None, ">=")
        ref = get(R, key, REFERENCE, "msgs_per_s")
        check("Blocking msg/s ≥ 0.8 × librabbitmq: %s" % key, get(R, key, "python-blocking", "msgs_per_s"),
              ref * 0.8 if ref else None, ">=")
    for key in ("consume-ack-16", "consume-noack-16"):
        check("null broker: C API consume msg/s ≥ librabbitmq: %s" % key, get(N, key, "swiftamqp-c", "msgs_per_s"),
              get(N, key, REFERENCE, "msgs_per_s"), ">=")
    ref = get(N, "publish-16", REFERENCE, "msgs_per_s")
    check("null broker: C API publish msg/s ≥ 2 × librabbitmq: publish-16", get(N, "publish-16", "swiftamqp-c",
                                                                               "msgs_per_s"),
          ref * 2 if ref else None, ">=")
    return out


def targets_table(rows):
    lines = ["| target | measured (median) | verdict |", "|---|--:|---|"]
    for text, measured, verdict in rows:
        lines.append("| %s | %s | %s |" % (text, measured, "**%s**" % verdict if verdict == "FAIL" else verdict))
    return "\n".join(lines)
