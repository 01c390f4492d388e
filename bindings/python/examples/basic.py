"""The seed example: declare, bind, publish, get, ack (asyncio).

    AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ python3 examples/basic.py
"""

import asyncio
import os
import sys
import urllib.parse

try:
    import swiftamqp
except ModuleNotFoundError:  # run from a source checkout: use the package beside this folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import swiftamqp


def connection_params(url):
    """host, port, username, password, virtual_host from an amqp:// URL (defaults for the rest)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("amqp", ""):
        raise SystemExit("only amqp:// URLs are supported here, not %r" % parts.scheme)
    vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5672,
        "username": urllib.parse.unquote(parts.username) if parts.username else "guest",
        "password": urllib.parse.unquote(parts.password) if parts.password else "guest",
        "virtual_host": vhost,
    }


async def main():
    params = connection_params(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/"))
    connection = await swiftamqp.connect(**params)
    channel = await connection.open_channel()

    exchange = await channel.declare_exchange("test.exchange", "direct")
    queue = await channel.declare_queue("test.queue")
    await queue.bind(exchange, "routing.key")

    exchange.publish(swiftamqp.Message({"test_body": "content"}), "routing.key")

    received = await queue.get()
    print(received.json())
    received.ack()

    await channel.close()
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
