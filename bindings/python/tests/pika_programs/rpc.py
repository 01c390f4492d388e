import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
channel.queue_declare(queue='rpc.double', exclusive=True, auto_delete=True)


def serve(ch, method, properties, body):
    answer = str(2 * int(body)).encode()
    ch.basic_publish('', properties.reply_to, answer, pika.BasicProperties(correlation_id=properties.correlation_id))
    ch.basic_ack(method.delivery_tag)


replies = []


def on_reply(ch, method, properties, body):
    replies.append((properties.correlation_id, body.decode()))
    if len(replies) == 3:
        ch.stop_consuming()


channel.basic_consume('rpc.double', serve)
channel.basic_consume('amq.rabbitmq.reply-to', on_reply, auto_ack=True)
for number in range(3):
    channel.basic_publish('', 'rpc.double', str(number + 20),
                          pika.BasicProperties(reply_to='amq.rabbitmq.reply-to', correlation_id=f'c{number}'))
channel.start_consuming()
for correlation_id, answer in replies:
    print(correlation_id, answer)
connection.close()
