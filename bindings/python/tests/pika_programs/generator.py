import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
taken = []
for method, properties, body in channel.consume('work', inactivity_timeout=5):
    if method is None:
        break
    taken.append(body.decode())
    channel.basic_ack(method.delivery_tag)
    if len(taken) == 4:
        break
print('taken:', ', '.join(taken))
print('requeued:', channel.cancel())
connection.close()
