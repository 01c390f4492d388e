"""bench/run profile: where the C clients spend their time against the null broker (perf record
self time, callgrind instructions per message with the biggest callers, system calls per message)."""

import os
import re
import shutil
import subprocess
import time

from .brokers import NullBroker
from .common import OUT, RESULTS, ROOT, die, run_cmd, say
from .machine import capture, cpu_model


def callgrind_callers(tree, messages, top=8, callers=5):
    """From `callgrind_annotate --tree=caller`: the functions with the most self instructions, each
    with its biggest callers, as instructions per message."""
    line_re = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+([<*>])\s+(.*)$")
    entries, pending = [], []
    for line in tree.splitlines():
        m = line_re.match(line)
        if not m:
            pending = []
            continue
        n, kind, name = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
        name = re.sub(r"\s*\[/[^]]*\]\s*$", "", name)
        name = re.sub(r"^(\?\?\?|\S+\.[Sch]):", "", name)
        if kind == "<":
            pending.append((n, name))
        elif kind == "*":
            entries.append((n, name, sorted(pending, reverse=True)[:callers]))
            pending = []
        else:
            pending = []
    entries.sort(reverse=True)
    out = []
    for n, name, cs in entries[:top]:
        out.append("%8.0f /msg  %s" % (n / messages, name[:110]))
        for cn, cname in cs:
            out.append("%8s        <- %6.0f /msg from %s" % ("", cn / messages, cname[:100]))
    return "\n".join(out)


def profile(args, lib_dir):
    """Our C client (and librabbitmq, for reference) against the null broker: perf record
    (cpu-clock) for where the time goes, callgrind for instructions per message and perf stat
    syscall tracepoints for system calls per message. Per-message figures are differences of two
    runs with N1 and N2 messages, so connection setup cancels out; consumers find their messages
    preloaded in the null broker, so no publishing is counted."""
    for tool in ("perf", "valgrind", "callgrind_annotate", "objcopy"):
        if not shutil.which(tool):
            die("profile needs %s (apt-get install linux-perf valgrind binutils)" % tool)
    outdir = os.path.abspath(args.out or os.path.join(RESULTS, "profile-" + time.strftime("%Y%m%d-%H%M%S")))
    os.makedirs(outdir, exist_ok=True)
    # The library in lib_dir is stripped; SwiftPM's copy of the same build keeps the symbols.
    env = dict(os.environ)
    unstripped = os.path.join(ROOT, ".build", "release", "libswiftamqp.so")
    bid = lambda p: capture(["sh", "-c", "readelf -n '%s' | sed -n 's/.*Build ID: //p'" % p])
    if os.path.exists(unstripped) and bid(unstripped) == bid(os.path.join(lib_dir, "libswiftamqp.so.0")):
        libs = os.path.join(outdir, "lib")
        os.makedirs(libs, exist_ok=True)
        # Symbols kept, DWARF dropped: valgrind 3.19 cannot read the toolchain's DWARF 5.
        run_cmd(["objcopy", "--strip-debug", unstripped, os.path.join(libs, "libswiftamqp.so.0")])
        env["LD_LIBRARY_PATH"] = libs
    else:
        say("warning: %s is not the same build as %s; internal symbols will be missing" % (unstripped, lib_dir))
    swift = shutil.which("swift")

    def demangled(text):
        if not swift:
            return text
        r = subprocess.run([swift, "demangle", "--simplified"], input=text, capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else text

    def with_null(preload, fn):
        null = NullBroker()
        null.start(preload=preload)
        try:
            return fn(null.url)
        finally:
            null.stop()

    syscalls = ["sendto", "sendmsg", "write", "writev", "recvfrom", "recvmsg", "read", "readv", "poll", "ppoll",
                "epoll_wait", "epoll_pwait", "futex", "clock_gettime", "mmap", "munmap", "madvise", "brk"]
    cases = [("publish-16", ["--workload", "publish", "--size", "16"], False),
             ("publish-4k", ["--workload", "publish", "--size", "4096"], False),
             ("consume-ack-16", ["--workload", "consume", "--size", "16"], True),
             ("consume-noack-16", ["--workload", "consume", "--size", "16", "--no-ack"], True),
             ("roundtrip-16", ["--workload", "roundtrip", "--size", "16"], False)]
    n_perf = max(1000, int(300000 * args.scale))
    n1, n2 = max(1000, int(20000 * args.scale)), max(2000, int(60000 * args.scale))
    lines = ["# Profile of the C clients against the null broker", "",
             "%s; swiftamqp %s, library build id %s; %s, %s cores" % (
                 time.strftime("%Y-%m-%d %H:%M"), capture(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
                 bid(os.path.join(lib_dir, "libswiftamqp.so.0")), cpu_model(), os.cpu_count()), ""]
    for key, wargs, consume in cases:
        for client, prog in (("swiftamqp-c", "bench-swiftamqp"), ("librabbitmq", "bench-librabbitmq")):
            base = os.path.join(outdir, "%s-%s" % (client, key))

            def exe(url, n):
                return ([os.path.join(OUT, prog), "--url", url] + wargs + ["--count", str(n)] +
                        (["--prefilled"] if consume else []))

            section = ["## %s, %s" % (client, key), ""]
            # 1. perf record: self time per symbol, with the callers of the big ones in a side file.
            if client == "swiftamqp-c":
                with_null((n_perf, 16) if consume else None, lambda url: run_cmd(
                    ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2999", "-g", "-o", base + ".perf"] +
                    exe(url, n_perf), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                top = capture(["perf", "report", "-i", base + ".perf", "--no-children", "--sort", "dso,sym",
                               "--stdio", "-g", "none", "--percent-limit", "0.8"])
                top = "\n".join(l for l in top.splitlines() if l.strip() and not l.startswith("#"))
                section += ["perf record -e cpu-clock, %d messages, self time (all threads):" % n_perf, "",
                            "```", demangled(top).rstrip(), "```", ""]
                callers = capture(["perf", "report", "-i", base + ".perf", "--no-children", "--sort", "sym",
                                   "--stdio", "-G", "--percent-limit", "3"])
                with open(base + ".callers.txt", "w") as f:
                    f.write(demangled(callers))
            # 2. callgrind: instructions per message.
            irs = []
            for n in (n1, n2):
                cg = base + ".callgrind.%d" % n
                with_null((n, 16) if consume else None, lambda url: run_cmd(
                    ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg] + exe(url, n),
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                m = re.search(r"^(?:summary|totals):\s+(\d+)", open(cg).read(), re.M)
                irs.append(int(m.group(1)) if m else 0)
            section.append("- callgrind: **%.0f instructions per message** (all threads; (I(%d) − I(%d)) / %d)" % (
                (irs[1] - irs[0]) / (n2 - n1), n2, n1, n2 - n1))
            if client == "swiftamqp-c":
                ann = capture(["callgrind_annotate", "--inclusive=no", base + ".callgrind.%d" % n2])
                with open(base + ".callgrind.txt", "w") as f:
                    f.write(demangled(ann))
                tree = demangled(capture(["callgrind_annotate", "--tree=caller", base + ".callgrind.%d" % n2]))
                section += ["- callgrind, instructions by function (self) and their biggest callers:", "", "```",
                            callgrind_callers(tree, n2).rstrip(), "```"]
            # 3. perf stat on syscall tracepoints: system calls per message, natively.
            counts = []
            for n in (n1, n2):
                st = base + ".syscalls.%d" % n
                events = ",".join("syscalls:sys_enter_" + s for s in syscalls)
                with_null((n, 16) if consume else None, lambda url: run_cmd(
                    ["perf", "stat", "-x,", "-o", st, "-e", events] + exe(url, n), env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                c = {}
                for line in open(st):
                    p = line.split(",")
                    if len(p) > 2 and p[2].startswith("syscalls:sys_enter_") and p[0].isdigit():
                        c[p[2][len("syscalls:sys_enter_"):]] = int(p[0])
                counts.append(c)
            per = {k: (counts[1].get(k, 0) - counts[0].get(k, 0)) / (n2 - n1) for k in syscalls}
            shown = ", ".join("%s %.3f" % (k, v) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.001)
            section.append("- system calls per message (perf stat, natively): %s (total %.3f)" % (
                shown or "none", sum(per.values())))
            lines += section + [""]
            say("profiled %s %s" % (client, key))
    text = "\n".join(lines)
    with open(os.path.join(outdir, "profile.md"), "w") as f:
        f.write(text)
    print(text)
    say("profile in %s (perf data, *.callers.txt, *.callgrind.txt)" % os.path.relpath(outdir, os.getcwd()))
