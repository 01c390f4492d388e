<?php
// PHP's amqp extension (php-amqp, on librabbitmq.so.4) through one scenario: declare an
// exchange and a queue, bind, publish with every basic property and a header table, basic.get
// with an ack, a reject with requeue, consume with acks, a consumer on a second queue that is
// cancelled, purge, unbind and delete. Prints only deterministic values; php_scenario.sh runs it on
// the real librabbitmq and on the compat library and compares.
//
//   php amqp_roundtrip.php AMQP_URL NAME_PREFIX
if ($argc != 3) {
    fwrite(STDERR, "usage: php amqp_roundtrip.php AMQP_URL NAME_PREFIX\n");
    exit(2);
}
$u = parse_url($argv[1]);
$prefix = $argv[2];
$conn = new AMQPConnection([
    'host' => $u['host'],
    'port' => $u['port'] ?? 5672,
    'login' => urldecode($u['user'] ?? 'guest'),
    'password' => urldecode($u['pass'] ?? 'guest'),
    'vhost' => isset($u['path']) ? urldecode(substr($u['path'], 1)) : '/',
    'read_timeout' => 10,
    'write_timeout' => 10,
    'connect_timeout' => 10,
]);
$conn->connect();
printf("connected: %s, channel_max %d, frame_max %d, heartbeat %d\n", var_export($conn->isConnected(), true),
       $conn->getMaxChannels(), $conn->getMaxFrameSize(), $conn->getHeartbeatInterval());
$ch = new AMQPChannel($conn);
$ch->qos(0, 5);
printf("channel %d, prefetch %d\n", $ch->getChannelId(), $ch->getPrefetchCount());

$ex = new AMQPExchange($ch);
$ex->setName("$prefix.x");
$ex->setType(AMQP_EX_TYPE_DIRECT);
$ex->setFlags(AMQP_DURABLE);
$ex->declareExchange();
$q = new AMQPQueue($ch);
$q->setName("$prefix.q");
$q->setFlags(AMQP_DURABLE);
$q->setArgument('x-max-length', 1000);
printf("queue declared, %d messages\n", $q->declareQueue());
$q->bind("$prefix.x", 'rk');

function show(string $what, $env): void
{
    if ($env === false || $env === null) {
        echo "$what: nothing\n";
        return;
    }
    $h = $env->getHeaders();
    ksort($h);
    printf("%s: tag %d redelivered %s exchange %s key %s body '%s'\n", $what, $env->getDeliveryTag(),
           var_export($env->isRedelivery(), true), $env->getExchangeName() === '' ? '(default)' : 'X',
           $env->getRoutingKey(), $env->getBody());
    printf("  content_type %s encoding %s mode %d priority %d corr %s reply_to %s expiration %s\n",
           $env->getContentType(), $env->getContentEncoding(), $env->getDeliveryMode(), $env->getPriority(),
           $env->getCorrelationId(), $env->getReplyTo(), $env->getExpiration());
    printf("  message_id %s timestamp %d type %s user %s app %s\n", $env->getMessageId(), $env->getTimestamp(),
           $env->getType(), $env->getUserId(), $env->getAppId());
    echo '  headers ', str_replace("\n", ' ', var_export($h, true)), "\n";
}

for ($i = 1; $i <= 8; $i++) {
    $ok = $ex->publish("message $i", 'rk', AMQP_NOPARAM, [
        'content_type' => 'text/plain',
        'content_encoding' => 'utf-8',
        'delivery_mode' => 2,
        'priority' => $i % 10,
        'correlation_id' => "corr-$i",
        'reply_to' => 'replies',
        'expiration' => '600000',
        'message_id' => "id-$i",
        'timestamp' => 1700000000 + $i,
        'type' => 'roundtrip',
        'user_id' => urldecode($u['user'] ?? 'guest'),
        'app_id' => 'amqp_roundtrip.php',
        'headers' => [
            'x-int' => $i,
            'x-negative' => -123456789012,
            'x-string' => "header $i",
            'x-bool' => $i % 2 == 0,
            'x-float' => 2.5,
            'x-null' => null,
            'x-list' => [1, 'two', 3.0],
            'x-table' => ['a' => 1, 'b' => 'bee'],
        ],
    ]);
    if (!$ok)
        echo "publish $i failed\n";
}
// a larger body, several frames
$big = str_repeat('0123456789abcdef', 40000);
$ex->publish($big, 'rk');
// to the default exchange
$def = new AMQPExchange($ch);
$def->publish('via the default exchange', "$prefix.q", AMQP_NOPARAM, ['content_type' => 'application/x-test']);

// basic.get with a manual ack, then a reject with requeue (redelivered next time)
$env = $q->get();
show('get 1', $env);
$q->ack($env->getDeliveryTag());
$env = $q->get();
show('get 2', $env);
$q->reject($env->getDeliveryTag(), AMQP_REQUEUE);
$env = $q->get(AMQP_AUTOACK);
show('get 3 (requeued, auto-ack)', $env);

// consume the rest with acks; returning false from the callback stops consuming
$seen = 0;
$q->consume(function (AMQPEnvelope $e, AMQPQueue $queue) use (&$seen, $big) {
    $seen++;
    if (strlen($e->getBody()) > 1000) {
        printf("consume %d: large body of %d bytes, intact %s\n", $seen, strlen($e->getBody()),
               var_export($e->getBody() === $big, true));
    } else {
        show("consume $seen", $e);
    }
    $queue->ack($e->getDeliveryTag());
    return $seen < 8;
}, AMQP_NOPARAM, 'php-ctag');
printf("consumer tag %s, consumed %d\n", $q->getConsumerTag(), $seen);
$q->cancel('php-ctag');

// a nack with requeue, a multiple ack
$ex->publish('n1', 'rk');
$ex->publish('n2', 'rk');
$ex->publish('n3', 'rk');
$a = $q->get();
$q->nack($a->getDeliveryTag(), AMQP_REQUEUE);
$b = $q->get();
$c = $q->get();
show('after nack', $b);
$q->ack($c->getDeliveryTag(), AMQP_MULTIPLE);
$d = $q->get();
show('left', $d);
show('empty', $q->get());

// a second queue with a consumer that is cancelled before anything arrives
$q2 = new AMQPQueue($ch);
$q2->setName("$prefix.q2");
$q2->setFlags(AMQP_DURABLE);
$q2->declareQueue();
$q2->bind("$prefix.x", 'rk2');
$ex->publish('for q2', 'rk2');
$q2->consume(null, AMQP_NOPARAM, 'q2-tag');
$q2->cancel('q2-tag');
$ex->publish('also for q2', 'rk2');
printf("q2 purged: %d\n", $q2->purge());
$q2->unbind("$prefix.x", 'rk2');
printf("q2 deleted: %d\n", $q2->delete());

// errors: a passive declare of a missing queue closes the channel
try {
    $ch3 = new AMQPChannel($conn);
    $missing = new AMQPQueue($ch3);
    $missing->setName("$prefix.missing");
    $missing->setFlags(AMQP_PASSIVE);
    $missing->declareQueue();
    echo "missing queue declared?\n";
} catch (AMQPQueueException $e) {
    printf("passive declare: %s (code %d)\n", $e->getMessage(), $e->getCode());
}
printf("q deleted: %d\n", $q->delete());
$ex->delete();
echo "exchange deleted\n";
$conn->disconnect();
printf("connected after disconnect: %s\n", var_export($conn->isConnected(), true));
echo "done\n";
