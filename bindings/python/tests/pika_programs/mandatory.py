import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
channel.confirm_delivery()
try:
    channel.basic_publish(exchange='', routing_key='no-such-queue', body='lost?', mandatory=True)
    print('routed')
except pika.exceptions.UnroutableError as error:
    print('returned', len(error.messages))
connection.close()
