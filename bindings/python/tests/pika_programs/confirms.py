import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
channel.exchange_declare(exchange='audited', exchange_type='fanout')
channel.confirm_delivery()
for number in range(5):
    channel.basic_publish(exchange='audited', routing_key='', body=f'event {number}')
print('5 publishes confirmed')
connection.close()
