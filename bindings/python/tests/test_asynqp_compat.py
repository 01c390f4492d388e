"""asynqp programs on swiftamqp: the README example unchanged apart from `yield from` -> `await`,
asynqp's names, and its behaviours (returns without a handler, exceptions by reply code)."""

import asyncio
import os
import subprocess
import sys

import pytest

import swiftamqp
from conftest import BINDING_DIR, Forwarder, run

# asynqp's README example, with `@asyncio.coroutine def` / `yield from` made `async def` / `await`.
README_EXAMPLE = '''\
import asyncio
import asynqp


async def hello_world():
    """
    Sends a 'hello world' message and then reads it from the queue.
    """
    # connect to the RabbitMQ broker
    connection = await asynqp.connect('localhost', 5672, username='guest', password='guest')

    # Open a communications channel
    channel = await connection.open_channel()

    # Create a queue and an exchange on the broker
    exchange = await channel.declare_exchange('test.exchange', 'direct')
    queue = await channel.declare_queue('test.queue')

    # Bind the queue to the exchange, so the queue will get messages published to the exchange
    await queue.bind(exchange, 'routing.key')

    # If you pass in a dict it will be automatically converted to JSON
    msg = asynqp.Message({'test_body': 'content'})
    exchange.publish(msg, 'routing.key')

    # Synchronously get a message from the queue
    received = await queue.get()
    print(received.json())  # get JSON from incoming messages easily

    # Acknowledge a delivered message
    received.ack()

    await channel.close()
    await connection.close()


if __name__ == "__main__":
    loop = asyncio.get_event_loop()
    loop.run_until_complete(hello_world())
'''

# asynqp 0.6's __all__
ASYNQP_NAMES = [
    "Message", "IncomingMessage", "Connection", "Channel", "Exchange", "Queue", "QueueBinding",
    "Consumer", "connect", "connect_and_open_channel", "AMQPError", "ConnectionLostError",
    "ChannelClosed", "ConnectionClosed", "AMQPChannelError", "AMQPConnectionError",
    "UndeliverableMessage", "Deleted", "ContentTooLarge", "NoConsumers", "ConnectionForced",
    "InvalidPath", "AccessRefused", "NotFound", "ResourceLocked", "PreconditionFailed",
    "FrameError", "SyntaxError", "CommandInvalid", "ChannelError", "UnexpectedFrame",
    "ResourceError", "NotAllowed", "NotImplemented", "InternalError",
]


@pytest.fixture
def broker_on_5672(params):
    """The example connects to localhost:5672: forward that port to the test broker (when
    something already listens there, it is a broker on localhost:5672, which is what the example
    expects)."""
    if (params["host"], params["port"]) in (("127.0.0.1", 5672), ("localhost", 5672)):
        yield
        return
    try:
        forwarder = Forwarder((params["host"], params["port"]), port=5672)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        forwarder.close()


@pytest.mark.parametrize("import_line", ["import asynqp", "import swiftamqp as asynqp"])
def test_readme_example_runs(tmp_path, broker_on_5672, import_line):
    script = tmp_path / "hello_world.py"
    script.write_text(README_EXAMPLE.replace("import asynqp", import_line))
    # `import asynqp` finds this alias module: the example's text stays as asynqp wrote it.
    (tmp_path / "asynqp.py").write_text("import sys, swiftamqp\nsys.modules[__name__] = swiftamqp\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), BINDING_DIR]))
    proc = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", str(script)],
                          env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "{'test_body': 'content'}"


def test_asynqp_names_exist():
    import swiftamqp as asynqp
    missing = [name for name in ASYNQP_NAMES if not hasattr(asynqp, name)]
    assert not missing
    assert set(ASYNQP_NAMES) <= set(asynqp.__all__)
    for name in ASYNQP_NAMES[10:]:
        assert issubclass(getattr(asynqp, name), Exception)
    assert issubclass(asynqp.NotFound, asynqp.AMQPError)
    assert issubclass(asynqp.AMQPError, IOError)
    assert issubclass(asynqp.UndeliverableMessage, ValueError)
    assert issubclass(asynqp.Deleted, ValueError)
    assert issubclass(asynqp.ConnectionLostError, asynqp.AMQPConnectionError)
    assert issubclass(asynqp.ChannelClosed, asynqp.AMQPChannelError)
    assert asynqp.NotFound.code == 404 and asynqp.PreconditionFailed.code == 406


def test_unroutable_without_handler_reaches_the_exception_handler(params, unique):
    async def main():
        loop = asyncio.get_running_loop()
        contexts = []
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        exchange = await channel.declare_exchange(unique("ex"), "direct", durable=False,
                                                  auto_delete=True)
        exchange.publish(swiftamqp.Message(b"lost", message_id="m"), "no.binding")
        for _ in range(200):
            if contexts:
                break
            await asyncio.sleep(0.01)
        assert len(contexts) == 1
        exc = contexts[0]["exception"]
        assert isinstance(exc, swiftamqp.UndeliverableMessage)
        returned = exc.args[0]
        assert isinstance(returned, swiftamqp.IncomingMessage)
        assert returned.body == b"lost" and returned.message_id == "m"
        assert returned.exchange_name == exchange.name and returned.routing_key == "no.binding"
        # set_return_handler(None) restores that default
        got = []
        channel.set_return_handler(got.append)
        exchange.publish(swiftamqp.Message(b"handled"), "no.binding")
        channel.set_return_handler(None)
        await asyncio.sleep(0.2)
        await connection.close()

    run(main())


def test_asynqp_style_consumer_program(params, unique):
    """A consumer written for asynqp: a plain function callback, loop passed explicitly,
    `asyncio.get_event_loop().run_until_complete`."""
    received = []

    def process_msg(msg):
        received.append(msg.json())
        msg.ack()

    async def main(loop):
        connection = await swiftamqp.connect(params["host"], params["port"], params["username"],
                                             params["password"], params["virtual_host"], loop=loop)
        channel = await connection.open_channel()
        exchange = await channel.declare_exchange(unique("ex"), "topic", durable=False, auto_delete=True)
        queue = await channel.declare_queue(unique("q"), durable=False, exclusive=True)
        await queue.bind(exchange, "a.#")
        consumer = await queue.consume(process_msg)
        for i in range(3):
            exchange.publish(swiftamqp.Message({"n": i}), "a.b.c")
        while len(received) < 3:
            await asyncio.sleep(0.01)
        await consumer.cancel()
        await channel.close()
        await connection.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(loop), 30))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    assert received == [{"n": 0}, {"n": 1}, {"n": 2}]

    async def wrong_loop():
        other = asyncio.new_event_loop()
        try:
            with pytest.raises(ValueError):
                await swiftamqp.connect(**params, loop=other)
        finally:
            other.close()

    run(wrong_loop())


def test_bind_to_the_default_exchange_as_asynqp(params):
    """asynqp refuses a bind to the default exchange itself only when the exchange argument is
    falsy (the name ''); the default exchange's Exchange object goes to the broker, whose 403
    ACCESS_REFUSED closes the channel."""
    async def main():
        connection, channel = await swiftamqp.connect_and_open_channel(**params)
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        for falsy in ("", None):
            with pytest.raises(swiftamqp.InvalidExchangeName):
                await queue.bind(falsy, "k")
        assert not channel.is_closed()  # nothing was sent
        default = await channel.declare_exchange("", "direct")
        with pytest.raises(swiftamqp.AccessRefused) as info:
            await queue.bind(default, "k")
        assert info.value.reply_code == 403
        assert channel.is_closed()
        await connection.close()

    run(main())
