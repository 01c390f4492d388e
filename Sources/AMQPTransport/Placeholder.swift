import AMQPEngine
