"""Publisher confirms and a consumer as an async iterator.

    AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f python3 examples/confirm_and_consume.py
"""

import asyncio
import os
import sys

try:
    import swiftamqp
except ModuleNotFoundError:  # run from a source checkout: use the package beside this folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import swiftamqp


async def main():
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2f")
    async with swiftamqp.connect_url(url, connection_name="confirm_and_consume example") as connection:
        channel = await connection.open_channel()
        queue = await channel.declare_queue("", exclusive=True, durable=False)
        exchange = await channel.declare_exchange("", "direct")

        # Each call returns once the broker has the message (or raises on nack or return).
        await asyncio.gather(*[exchange.publish_confirmed(swiftamqp.Message({"n": i}), queue.name)
                               for i in range(5)])
        print("5 messages confirmed")

        await channel.set_qos(prefetch_count=10)
        async with queue.iterate() as messages:
            async for message in messages:
                print("received", message.json())
                message.ack()
                if message.json()["n"] == 4:
                    break


if __name__ == "__main__":
    asyncio.run(main())
