import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
method, properties, body = channel.basic_get(queue='work')
if method is None:
    print('empty')
else:
    print(method.routing_key, properties.content_type, body.decode(), method.message_count)
    channel.basic_ack(method.delivery_tag)
connection.close()
