"""The clients and the workloads of a run: which clients exist and which run by default, how
many messages each gets, the workloads against RabbitMQ and against the null broker, and the
cells that cannot be measured."""

REFERENCE = "librabbitmq"

CLIENTS = ["swiftamqp-c", "librabbitmq", "swiftamqp-py", "aio-pika", "python-blocking", "pika",
           "librabbitmq-compat"]
# python-blocking: swiftamqp.blocking; pika: pika's BlockingConnection. Both run the same program
# (bench/py/bench_blocking.py), which differs between them only in the import and the connect line.
# librabbitmq-compat: the very same bench-librabbitmq binary, run with LD_LIBRARY_PATH on the
# compat librabbitmq.so.4 (build/compat, bindings/librabbitmq-compat) instead of the real one, so
# the comparison is exact. Only on request (--clients ...,librabbitmq-compat).
DEFAULT_CLIENTS = [c for c in CLIENTS if c != "librabbitmq-compat"]
COMPAT_ENV = []   # ["env", "LD_LIBRARY_PATH=..."] once snapshot() copied the compat library
# Messages per run are the workload's count times the client's scale: slow clients get fewer
# messages so that every run lasts a second or two (rates and CPU per message do not depend on it).
CLIENT_SCALE = {"swiftamqp-c": 1.0, "librabbitmq": 1.0, "swiftamqp-py": 0.5, "aio-pika": 0.1,
                "python-blocking": 0.5, "pika": 0.1,
                "librabbitmq-compat": 1.0}
NULL_CLIENT_SCALE = {"swiftamqp-c": 1.0, "librabbitmq": 1.0, "swiftamqp-py": 0.1, "aio-pika": 0.02,
                     "python-blocking": 0.1, "pika": 0.02,
                     "librabbitmq-compat": 1.0}


class Workload:
    def __init__(self, key, label, workload, size, count, no_ack=False, scaled=True):
        self.key, self.label, self.workload, self.size = key, label, workload, size
        self.count, self.no_ack, self.scaled = count, no_ack, scaled

    def args(self):
        a = ["--workload", self.workload, "--size", str(self.size)]
        return a + (["--no-ack"] if self.no_ack else [])


# Against RabbitMQ. Round trips are not scaled: latency needs the same number of samples.
WORKLOADS = [
    Workload("publish-16", "publish 16 B", "publish", 16, 200000),
    Workload("publish-4k", "publish 4 KiB", "publish", 4096, 50000),
    Workload("confirm-16", "publish 16 B, confirms (1000 outstanding)", "confirm", 16, 100000),
    Workload("consume-ack-16", "consume 16 B, prefetch 1000, ack every 100", "consume", 16, 100000),
    Workload("consume-ack-4k", "consume 4 KiB, prefetch 1000, ack every 100", "consume", 4096, 30000),
    Workload("consume-noack-16", "consume 16 B, no-ack", "consume", 16, 100000, no_ack=True),
    Workload("consume-noack-4k", "consume 4 KiB, no-ack", "consume", 4096, 30000, no_ack=True),
    Workload("roundtrip-16", "round trip 16 B (publish, then its delivery)", "roundtrip", 16, 5000, scaled=False),
]
# Against the null broker: the client's own limit.
NULL_WORKLOADS = [
    Workload("publish-16", "publish 16 B", "publish", 16, 500000),
    Workload("publish-4k", "publish 4 KiB", "publish", 4096, 100000),
    Workload("consume-ack-16", "consume 16 B, ack every 100", "consume", 16, 500000),
    Workload("consume-noack-16", "consume 16 B, no-ack", "consume", 16, 500000, no_ack=True),
]
NULL_CLIENTS = ["swiftamqp-c", "librabbitmq", "swiftamqp-py", "python-blocking", "pika", "librabbitmq-compat"]

# Cells that cannot be measured, with the reason the table prints: {(client, target, key): reason}.
# A blocking API's basic_publish in confirm mode waits for that message's confirm: one outstanding,
# not the window of 1000 the confirm workload measures.
NOT_AVAILABLE = {(client, "rabbitmq", "confirm-16"): "blocking API: one confirm outstanding"
                 for client in ("python-blocking", "pika")}
