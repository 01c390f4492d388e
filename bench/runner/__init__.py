"""The parts of bench/run, the benchmark's entry script (which puts bench/ on sys.path to
import them): common (paths, messages), workloads (clients and workloads), building, brokers
(RabbitMQ, the null broker, CPU accounting), running, summary (medians, tables, targets), machine
(the machine and versions), report, profiling (bench/run profile)."""
