"""The report of a results folder: table.md, summary.json and chart.png from meta.json and
raw.jsonl, and (--update-docs) the generated part of docs/PERFORMANCE.md."""

import json
import os
import shutil
import statistics
import subprocess

from .common import BENCH, ROOT, die, say
from .machine import machine_line
from .summary import load_raw, summarise, table, targets, targets_table


def report(outdir, py, update_docs):
    meta = json.load(open(os.path.join(outdir, "meta.json")))
    records = load_raw(os.path.join(outdir, "raw.jsonl"))
    summary = summarise(records)
    foreign = [r["foreign_cores"] for r in records if "foreign_cores" in r]
    lines = ["Machine: " + machine_line(meta), "",
             "%d runs, %d failed; median CPU used by other processes during a run: %.2f cores (max %.2f)." % (
                 len(records), sum(1 for r in records if not r.get("ok")),
                 statistics.median(foreign) if foreign else 0, max(foreign) if foreign else 0), "",
             table(summary), "**Targets** (the issue's, on these medians)", "", targets_table(targets(summary)), ""]
    text = "\n".join(lines)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump({"|".join(k): v for k, v in summary.items()}, f, indent=1)
    print(text)
    chart = os.path.join(outdir, "chart.png")
    r = subprocess.run([py, os.path.join(BENCH, "chart.py"), outdir, chart])
    if r.returncode:
        say("the chart was not drawn")
    if update_docs:
        docs_update(outdir, text, chart)
    say("results in %s" % os.path.relpath(outdir, os.getcwd()))


def docs_update(outdir, text, chart):
    """Replaces the generated part of docs/PERFORMANCE.md and copies the chart and raw figures."""
    doc = os.path.join(ROOT, "docs", "PERFORMANCE.md")
    begin, end = "<!-- bench/run --update-docs: begin -->", "<!-- bench/run --update-docs: end -->"
    body = open(doc).read()
    if begin not in body or end not in body:
        die("docs/PERFORMANCE.md lacks the markers %s ... %s" % (begin, end))
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + text.rstrip() + "\n\n![chart](performance.png)\n" + end + tail)
    if os.path.exists(chart):
        shutil.copyfile(chart, os.path.join(ROOT, "docs", "performance.png"))
    shutil.copyfile(os.path.join(outdir, "raw.jsonl"), os.path.join(ROOT, "docs", "performance-raw.jsonl"))
    say("updated docs/PERFORMANCE.md, docs/performance.png, docs/performance-raw.jsonl")
