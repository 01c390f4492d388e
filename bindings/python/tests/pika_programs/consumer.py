import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
channel.queue_declare(queue='work', durable=True)
channel.basic_qos(prefetch_count=1)
seen = 0


def handle(ch, method, properties, body):
    global seen
    seen += 1
    ch.basic_ack(delivery_tag=method.delivery_tag)
    print(seen, body.decode())


channel.basic_consume(queue='work', on_message_callback=handle)
try:
    channel.start_consuming()
except KeyboardInterrupt:
    channel.stop_consuming()
print('stopped after', seen)
connection.close()
