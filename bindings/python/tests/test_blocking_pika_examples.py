"""pika's own blocking examples (tests/pika_examples, copied unchanged) run on swiftamqp.blocking
with only their import lines and connect lines replaced.

Each port is checked first: every line that differs from pika's file must be an import or a
connect line. The port then runs as its own process against a virtual host made for this
module (the examples use fixed names such as 'test'), and what it printed and left at the broker
is checked.
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
from conftest import BINDING_DIR, HERE, broker_ctl

EXAMPLES = os.path.join(HERE, "pika_examples")
IMPORT = "import os\nfrom swiftamqp import blocking as pika"
CONNECT = 'pika.connect(os.environ["EXAMPLE_URL"])'

#: file -> [(pika's line, its replacement)]
PORTS = {
    "comparing_publishing_sync.py": [
        ("import pika", IMPORT),
        ("parameters = pika.URLParameters('amqp://guest:guest@localhost:5672/%2F')", None),
        ("connection = pika.BlockingConnection(parameters)", "connection = " + CONNECT),
    ],
    "publish.py": [
        ("import pika", IMPORT),
        ("from pika import DeliveryMode", "from swiftamqp.blocking import DeliveryMode"),
        ("from pika.exchange_type import ExchangeType", "from swiftamqp.blocking import ExchangeType"),
        ("parameters = pika.ConnectionParameters('localhost', credentials=credentials)", None),
        ("connection = pika.BlockingConnection(parameters)",
         'connection = pika.connect(os.environ["EXAMPLE_URL"], credentials=credentials)'),
    ],
    "blocking_consume.py": [("import pika", IMPORT), ("connection = pika.BlockingConnection()", "connection = " + CONNECT)],
    "blocking_consumer_generator.py": [("import pika", IMPORT),
                                       ("connection = pika.BlockingConnection()", "connection = " + CONNECT)],
    "blocking_basic_get.py": [("import pika", IMPORT), ("connection = pika.BlockingConnection()", "connection = " + CONNECT)],
    "blocking_delivery_confirmations.py": [("import pika", IMPORT),
                                           ("connection = pika.BlockingConnection()", "connection = " + CONNECT)],
    "blocking_publish_mandatory.py": [("import pika", IMPORT), ("import pika.exceptions", None),
                                      ("connection = pika.BlockingConnection()", "connection = " + CONNECT)],
    "direct_reply_to.py": [("import pika", IMPORT),
                           ("    with pika.BlockingConnection() as conn:", "    with %s as conn:" % CONNECT)],
}

IMPORT_OR_CONNECT = re.compile(
    r"^\s*(import pika\b|from pika\b|.*pika\.(BlockingConnection|ConnectionParameters|URLParameters)\()")


def port(name):
    """pika's example `name` with its import and connect lines replaced; checks the diff."""
    with open(os.path.join(EXAMPLES, name)) as f:
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
    assert sorted(PORTS) == sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))


def test_publisher_comparing_publishing_sync(vhost_url, admin, tmp_path):
    admin.exchange_declare("test_exchange", "direct", durable=True)
    admin.queue_declare("sync", durable=True)
    admin.queue_bind("sync", "test_exchange", "test_routing_key")
    run_example("comparing_publishing_sync.py", vhost_url, tmp_path)
    wait_count(admin, "sync", 1)
    (props, body), = bodies(admin, "sync")
    assert body == b"message body value" and props.content_type == "text/plain" and props.delivery_mode == 1


def test_publisher_publish(vhost_url, admin, tmp_path):
    admin.exchange_declare("test_exchange", "direct", durable=True)
    admin.queue_declare("standard", durable=True)
    admin.queue_bind("standard", "test_exchange", "standard_key")
    out = run_example("publish.py", vhost_url, tmp_path)
    assert out.splitlines() == ["Sending message to create a queue", "Sending text message to group",
                                "Sending text message"]
    wait_count(admin, "standard", 2)
    assert [b for _, b in bodies(admin, "standard")] == [b"queue:group", b"Message to standard_key"]


def test_basic_get(vhost_url, admin, tmp_path):
    admin.queue_declare("test", durable=True)
    admin.queue_purge("test")
    assert run_example("blocking_basic_get.py", vhost_url, tmp_path).strip() == "No message returned"
    admin.basic_publish("", "test", b"Hello World!", blocking.BasicProperties(content_type="text/plain"))
    wait_count(admin, "test", 1)
    out = run_example("blocking_basic_get.py", vhost_url, tmp_path)
    assert out.startswith("<Basic.GetOk(") and "'routing_key=test'" in out
    assert "<BasicProperties(['content_type=text/plain'])>" in out and out.rstrip().endswith("b'Hello World!'")
    wait_count(admin, "test", 0)  # acked


def test_consumer_generator(vhost_url, admin, tmp_path):
    admin.queue_declare("test", durable=True)
    admin.queue_purge("test")
    for i in range(15):
        admin.basic_publish("", "test", b"message %d" % i)
    wait_count(admin, "test", 15)
    out = run_example("blocking_consumer_generator.py", vhost_url, tmp_path).splitlines()
    assert out[-1] == "Requeued 5 messages"
    assert [line for line in out if line.startswith("b'")] == ["b'message %d'" % i for i in range(10)]
    assert sum(line.startswith("<Basic.Deliver(") for line in out) == 10
    wait_count(admin, "test", 5)  # ten acked, five requeued
    assert [b for _, b in bodies(admin, "test")] == [b"message %d" % i for i in range(10, 15)]


def test_consumer_stopped_with_ctrl_c(vhost_url, admin, tmp_path):
    admin.queue_declare("test", durable=True)
    admin.queue_purge("test")
    for i in range(3):
        admin.basic_publish("", "test", b"consume %d" % i)
    path = tmp_path / "blocking_consume.py"
    path.write_text(port("blocking_consume.py"))
    env = dict(os.environ, EXAMPLE_URL=vhost_url,
               PYTHONPATH=BINDING_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-u", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("b'consume 2'"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err  # KeyboardInterrupt caught, stop_consuming, close
    assert lines == ["1", "b'consume 0'", "2", "b'consume 1'", "3", "b'consume 2'"]
    wait_count(admin, "test", 0)  # all acked


def test_delivery_confirmations(vhost_url, admin, tmp_path):
    admin.exchange_declare("test", "direct")
    assert run_example("blocking_delivery_confirmations.py", vhost_url, tmp_path).strip() == \
        "Message publish was confirmed"


def test_publish_mandatory(vhost_url, admin, tmp_path):
    admin.exchange_declare("test", "direct")
    admin.queue_declare("test", durable=True)
    admin.queue_unbind("test", "test", "test")
    admin.queue_purge("test")
    assert run_example("blocking_publish_mandatory.py", vhost_url, tmp_path).strip() == "Message was returned"
    admin.queue_bind("test", "test", "test")
    assert run_example("blocking_publish_mandatory.py", vhost_url, tmp_path).strip() == "Message was published"
    wait_count(admin, "test", 1)
    (props, body), = bodies(admin, "test")
    assert body == b"Hello World!" and props.content_type == "text/plain"


def test_rpc_direct_reply_to(vhost_url, tmp_path):
    out = run_example("direct_reply_to.py", vhost_url, tmp_path).splitlines()
    assert out == ["RPC Server got request: b'Marco'", "RPC Server says good bye",
                   "RPC Client got reply: b'Polo'", "RPC Client says bye"]
