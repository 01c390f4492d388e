"""The brokers a run talks to, RabbitMQ (scripts/broker) and the null broker (bench/c), and the
CPU accounting of processes and of the whole machine (/proc)."""

import os
import re
import signal
import subprocess
import sys

from .common import OUT, ROOT, die, say

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """user + system seconds of a process (all threads), or None."""
    if not pid:
        return None
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_s():
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    parts = open("/proc/stat").readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / CLK_TCK


class RabbitMQ:
    def __init__(self, name):
        self.name, self.url, self.pid, self.started, self.version = name, None, None, False, None
        self.script = os.path.join(ROOT, "scripts", "broker")

    def start(self):
        status = subprocess.run([self.script, "status", self.name], capture_output=True, text=True)
        if status.returncode == 0:
            out = status.stdout
            say("using the running broker %s@localhost" % self.name)
        else:
            say("starting RabbitMQ %s@localhost (scripts/broker start)" % self.name)
            r = subprocess.run([self.script, "start", self.name], capture_output=True, text=True)
            if r.returncode:
                sys.stderr.write(r.stderr)
                die("the broker did not start")
            out = r.stdout
            self.started = True
        m = re.search(r"^AMQP_URL=(\S+)", out, re.M)
        if not m:
            die("scripts/broker printed no AMQP_URL")
        self.url = m.group(1)
        r = subprocess.run([self.script, "ctl", self.name, "eval", "os:getpid()."], capture_output=True, text=True)
        m = re.search(r'"(\d+)"', r.stdout)
        self.pid = int(m.group(1)) if m else None
        r = subprocess.run([self.script, "ctl", self.name, "eval", "rabbit_misc:version()."],
                           capture_output=True, text=True)
        m = re.search(r'"([^"]+)"', r.stdout)
        self.version = m.group(1) if m else "unknown"

    def stop(self):
        if self.started:
            say("stopping the broker")
            subprocess.run([self.script, "stop", self.name], capture_output=True)


class NullBroker:
    def __init__(self):
        self.proc, self.url = None, None

    def start(self, preload=None):
        """preload: (count, size): every connection finds that many messages in its queue."""
        cmd = [os.path.join(OUT, "nullbroker")]
        if preload:
            cmd += ["--preload", str(preload[0]), "--preload-size", str(preload[1])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"PORT=(\d+)", line)
        if not m:
            die("the null broker did not start")
        self.url = "amqp://guest:guest@127.0.0.1:%s/%%2f" % m.group(1)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
