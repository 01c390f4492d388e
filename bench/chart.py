"""Draws the benchmark chart from a results folder's raw figures (raw.jsonl, meta.json).

    python bench/chart.py RESULTS_DIR [OUT.png]

Bars are medians of the repetitions, whiskers their min and max; log scales. Runs in bench/.venv
(matplotlib)."""

import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CLIENTS = ["swiftamqp-c", "librabbitmq", "swiftamqp-py", "aio-pika", "python-blocking", "pika"]
COLORS = {"swiftamqp-c": "#d9480f", "librabbitmq": "#495057", "swiftamqp-py": "#f59f00", "aio-pika": "#1c7ed6",
          "python-blocking": "#37b24d", "pika": "#7048e8"}
ORDER = ["publish-16", "publish-4k", "confirm-16", "consume-ack-16", "consume-ack-4k", "consume-noack-16",
         "consume-noack-4k", "roundtrip-16"]


def load(folder):
    records = [json.loads(l) for l in open(os.path.join(folder, "raw.jsonl")) if l.strip()]
    meta_path = os.path.join(folder, "meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    return [r for r in records if r.get("ok")], meta


def stats(records, target, metric):
    """{(key, client): (median, min, max)}"""
    groups = {}
    for r in records:
        if r["target"] == target and r.get(metric) is not None:
            groups.setdefault((r["key"], r["client"]), []).append(r[metric])
    return {k: (statistics.median(v), min(v), max(v)) for k, v in groups.items()}


def bars(ax, data, keys, title, ylabel):
    clients = [c for c in CLIENTS if any((k, c) in data for k in keys)]
    keys = [k for k in keys if any((k, c) in data for c in clients)]
    if not keys:
        ax.set_visible(False)
        return
    width = 0.8 / max(1, len(clients))
    for i, c in enumerate(clients):
        xs, ys, lo, hi = [], [], [], []
        for j, k in enumerate(keys):
            if (k, c) in data:
                med, mn, mx = data[(k, c)]
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(med)
                lo.append(med - mn)
                hi.append(mx - med)
        ax.bar(xs, ys, width, color=COLORS[c], label=c, yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(keys, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(axis="y", which="both", alpha=0.25)
    ax.legend(fontsize=7)


def main():
    folder = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(folder, "chart.png")
    records, meta = load(folder)
    fig, axes = plt.subplots(3, 2, figsize=(13, 13))
    thr = [k for k in ORDER if k != "roundtrip-16"]
    bars(axes[0][0], stats(records, "rabbitmq", "msgs_per_s"), thr, "RabbitMQ: throughput", "msg/s (higher is better)")
    bars(axes[0][1], stats(records, "rabbitmq", "cpu_us_per_msg"), ORDER, "RabbitMQ: client CPU per message",
         "µs/msg, user+sys, all threads (lower is better)")
    bars(axes[1][0], stats(records, "null", "msgs_per_s"), thr, "Null broker: throughput", "msg/s (higher is better)")
    bars(axes[1][1], stats(records, "null", "cpu_us_per_msg"), thr, "Null broker: client CPU per message",
         "µs/msg (lower is better)")
    lat = {}
    for metric in ("p50_us", "p99_us"):
        for (k, c), v in stats(records, "rabbitmq", metric).items():
            lat[(metric.replace("_us", ""), c)] = v
    bars(axes[2][0], lat, ["p50", "p99"], "RabbitMQ: round trip 16 B (publish → its delivery)",
         "µs (lower is better)")
    axes[2][1].axis("off")
    note = ["Medians of %s runs per bar; whiskers: min and max." % meta.get("reps", "?"),
            "Each run is its own process; CPU = getrusage(RUSAGE_SELF)",
            "over the timed part (user + sys, every thread).", "",
            "Machine: %s, %s cores" % (meta.get("cpu", "?"), meta.get("nproc", "?")),
            "Linux %s, %s GB RAM" % (meta.get("kernel", "?"), meta.get("memory_gb", "?")),
            "RabbitMQ %s, librabbitmq %s" % (meta.get("rabbitmq"), meta.get("librabbitmq")),
            ", ".join(meta.get("python_packages", [])),
            "swiftamqp %s" % meta.get("git", "?"),
            meta.get("date", ""),
            "", "Shared machine: msg/s moves by ±30% from run to run;",
            "client CPU per message is the steadier figure."]
    axes[2][1].text(0.0, 1.0, "\n".join(note), va="top", fontsize=9, family="monospace")
    fig.suptitle("swiftamqp vs librabbitmq, aio-pika and pika (bench/run)", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
