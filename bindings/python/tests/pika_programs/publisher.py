import pika

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
channel = connection.channel()
channel.exchange_declare(exchange='orders', exchange_type='direct', durable=True)
for number in range(3):
    properties = pika.BasicProperties(content_type='text/plain', delivery_mode=2,
                                      headers={'sequence': number})
    channel.basic_publish(exchange='orders', routing_key='new', body=f'order {number}', properties=properties)
    print(f'published order {number}')
connection.close()
