"""Programs written for pika's BlockingConnection API (tests/pika_programs, this project's own
code: see its README) run on swiftamqp.blocking with only their import line and connect line
replaced.

Each port is checked first: every line that differs from the program must be the import or the
connect line. The port then runs as its own process against a virtual host made for this module
(the programs use fixed names), and what it printed and left at the broker is checked.
"""

import difflib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest

from swiftamqp import blocking

from blocking_helpers import hang_guard  # noqa: F401 - fixture
from conftest import BINDING_DIR, HERE, broker_ctl, sigint_default

PROGRAMS = os.path.join(HERE, "pika_programs")
IMPORT = "import os\nfrom swiftamqp import blocking as pika"
CONNECT_LINE = "connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))"
CONNECT = 'connection = pika.connect(os.environ["EXAMPLE_URL"])'
NAMES = ["publisher.py", "consumer.py", "generator.py", "getter.py", "confirms.py", "mandatory.py", "rpc.py"]
#: file -> [(its line, the replacement)]: the same two lines in every program
PORTS = {name: [("import pika", IMPORT), (CONNECT_LINE, CONNECT)] for name in NAMES}

IMPORT_OR_CONNECT = re.compile(
    r"^\s*(import pika\b|from pika\b|.*pika\.(BlockingConnection|ConnectionParameters|URLParameters)\()")


def port(name):
    """Program `name` with its import and connect lines replaced; checks the diff."""
    with open(os.path.join(PROGRAMS, name)) as f:
        original = f.read().splitlines()
    lines = list(original)
    for old, new in PORTS[name]:
        matches = [i for i, line in enumerate(lines) if line == old]
        assert len(matches) == 1, (name, old)
        lines[matches[0]:matches[0] + 1] = [] if new is None else new.split("\n")
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=original, b=lines).get_opcodes():
        if tag == "equal":
            continue
        for line in original[i1:i2]:
            assert IMPORT_OR_CONNECT.match(line), "not an import or connect line: %r" % line
        for line in lines[j1:j2]:
            assert line.startswith(("import os", "from swiftamqp")) or "pika.connect(" in line, line
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def vhost_url(amqp_url, broker):
    """A virtual host for the examples (they use fixed names), deleted afterwards."""
    vhost = "pytest-pika-examples-%s" % uuid.uuid4().hex[:8]
    parts = urllib.parse.urlsplit(amqp_url)
    user = urllib.parse.unquote(parts.username or "guest")
    broker_ctl("add_vhost", vhost)
    broker_ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""), "", ""))
    yield url
    broker_ctl("delete_vhost", vhost, check=False)


def run_example(name, url, tmp_path, timeout=60, stdin_signal_after=None):
    path = tmp_path / name
    path.write_text(port(name))
    env = dict(os.environ, EXAMPLE_URL=url,
               PYTHONPATH=BINDING_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def admin(vhost_url):
    with blocking.connect(vhost_url) as connection:
        yield connection.channel()


def bodies(channel, queue):
    out = []
    while True:
        m, p, b = channel.basic_get(queue, auto_ack=True)
        if m is None:
            return out
        out.append((p, b))


def wait_count(channel, queue, n, timeout=10):
    deadline = time.monotonic() + timeout
    while channel.queue_declare(queue, passive=True).method.message_count != n:
        assert time.monotonic() < deadline, "queue %s never held %d messages" % (queue, n)
        time.sleep(0.01)


def test_every_port_changes_only_imports_and_connects():
    for name in PORTS:
        port(name)
    assert sorted(PORTS) == sorted(f for f in os.listdir(PROGRAMS) if f.endswith(".py"))


def test_publisher(vhost_url, admin, tmp_path):
    admin.exchange_declare("orders", "direct", durable=True)
    admin.queue_declare("new-orders", durable=True)
    admin.queue_bind("new-orders", "orders", "new")
    out = run_example("publisher.py", vhost_url, tmp_path)
    assert out.splitlines() == ["published order 0", "published order 1", "published order 2"]
    wait_count(admin, "new-orders", 3)
    got = bodies(admin, "new-orders")
    assert [b for _, b in got] == [b"order 0", b"order 1", b"order 2"]
    assert all(p.content_type == "text/plain" and p.delivery_mode == 2 for p, _ in got)
    assert [p.headers["sequence"] for p, _ in got] == [0, 1, 2]


def test_getter(vhost_url, admin, tmp_path):
    admin.queue_declare("work", durable=True)
    admin.queue_purge("work")
    assert run_example("getter.py", vhost_url, tmp_path).strip() == "empty"
    admin.basic_publish("", "work", b"job 1", blocking.BasicProperties(content_type="text/plain"))
    admin.basic_publish("", "work", b"job 2")
    wait_count(admin, "work", 2)
    assert run_example("getter.py", vhost_url, tmp_path).strip() == "work text/plain job 1 1"
    wait_count(admin, "work", 1)  # acked


def test_generator(vhost_url, admin, tmp_path):
    admin.queue_declare("work", durable=True)
    admin.queue_purge("work")
    for i in range(6):
        admin.basic_publish("", "work", b"job %d" % i)
    wait_count(admin, "work", 6)
    out = run_example("generator.py", vhost_url, tmp_path).splitlines()
    assert out[0] == "taken: job 0, job 1, job 2, job 3"
    assert out[1].startswith("requeued: ") and int(out[1].split()[1]) <= 2
    wait_count(admin, "work", 2)  # four acked, the rest back in the queue
    assert [b for _, b in bodies(admin, "work")] == [b"job 4", b"job 5"]


def test_consumer_stopped_with_ctrl_c(vhost_url, admin, tmp_path):
    admin.queue_declare("work", durable=True)
    admin.queue_purge("work")
    for i in range(3):
        admin.basic_publish("", "work", b"task %d" % i)
    path = tmp_path / "consumer.py"
    path.write_text(port("consumer.py"))
    env = dict(os.environ, EXAMPLE_URL=vhost_url,
               PYTHONPATH=BINDING_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-u", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=sigint_default)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("3 task 2"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err  # KeyboardInterrupt caught, stop_consuming, close
    assert lines == ["1 task 0", "2 task 1", "3 task 2"]
    assert out.strip() == "stopped after 3"
    wait_count(admin, "work", 0)  # all acked


def test_confirms(vhost_url, admin, tmp_path):
    assert run_example("confirms.py", vhost_url, tmp_path).strip() == "5 publishes confirmed"


def test_mandatory(vhost_url, admin, tmp_path):
    assert run_example("mandatory.py", vhost_url, tmp_path).strip() == "returned 1"


def test_rpc_over_direct_reply_to(vhost_url, tmp_path):
    out = run_example("rpc.py", vhost_url, tmp_path).splitlines()
    assert sorted(out) == ["c0 40", "c1 42", "c2 44"]
