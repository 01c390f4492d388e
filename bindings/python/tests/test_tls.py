"""TLS (the system OpenSSL inside the library) against the TLS listener of `scripts/broker start
NAME --tls`: AMQPS_URL and SWIFTAMQP_TLS_DIR are required (scripts/test sets them)."""

import os

import pytest

import swiftamqp
from conftest import run


@pytest.fixture(scope="session")
def tls():
    url, folder = os.environ.get("AMQPS_URL"), os.environ.get("SWIFTAMQP_TLS_DIR")
    if not url or not folder:
        pytest.fail("AMQPS_URL and SWIFTAMQP_TLS_DIR are not set: these tests need a broker with a TLS "
                    "listener. Start one with `scripts/broker start NAME --tls` and export both.",
                    pytrace=False)

    class Tls:
        pass

    t = Tls()
    t.url = url
    t.path = lambda name: os.path.join(folder, name)
    return t


async def roundtrip(connection):
    channel = await connection.open_channel()
    queue = await channel.declare_queue("", exclusive=True, durable=False)
    exchange = await channel.declare_exchange("", "direct")
    await exchange.publish_confirmed(swiftamqp.Message(b"over tls"), queue.name)
    message = await queue.get(no_ack=True)
    assert message.body == b"over tls"
    await connection.close()


def test_tls_with_the_test_ca(tls):
    async def main():
        await roundtrip(await swiftamqp.connect_url(tls.url, tls_ca_file=tls.path("ca.pem")))
        await roundtrip(await swiftamqp.connect_url(tls.url, tls_ca_dir=tls.path("cadir")))
        with open(tls.path("ca.der"), "rb") as f:
            der = f.read()
        await roundtrip(await swiftamqp.connect_url(tls.url, tls_ca_certificates=[der]))
        sep = "&" if "?" in tls.url else "?"
        await roundtrip(await swiftamqp.connect_url(tls.url + sep + "cacertfile=" + tls.path("ca.pem")))

    run(main())


def test_tls_verification_failures(tls):
    async def main():
        # the broker's certificate is not signed by a CA we trust
        with pytest.raises(swiftamqp.LibraryError) as info:
            await swiftamqp.connect_url(tls.url, tls_ca_file=tls.path("other-ca.pem"), connect_timeout=10)
        assert info.value.status_name == "SWAMQP_ERR_TLS"
        # the certificate does not name the host we expect
        with pytest.raises(swiftamqp.LibraryError) as info:
            await swiftamqp.connect_url(tls.url, tls_ca_file=tls.path("ca.pem"),
                                        tls_server_name="not-the-broker.example", connect_timeout=10)
        assert info.value.status_name == "SWAMQP_ERR_TLS"
        # the loudly named switches turn those checks off
        await roundtrip(await swiftamqp.connect_url(tls.url, tls_insecure_skip_verify=True))
        await roundtrip(await swiftamqp.connect_url(tls.url, tls_ca_file=tls.path("ca.pem"),
                                                    tls_server_name="not-the-broker.example",
                                                    tls_insecure_skip_hostname_check=True))

    run(main())


def test_external_login_with_a_client_certificate(tls):
    with open(tls.path("client-key.password")) as f:
        key_password = f.read().strip()

    async def main():
        # EXTERNAL: the identity is the certificate's CN (guest); no password is sent
        await roundtrip(await swiftamqp.connect_url(
            tls.url, tls_ca_file=tls.path("ca.pem"), tls_cert_file=tls.path("client.pem"),
            tls_key_file=tls.path("client.key"), auth_mechanism="EXTERNAL"))
        await roundtrip(await swiftamqp.connect_url(
            tls.url, tls_ca_file=tls.path("ca.pem"), tls_cert_file=tls.path("client-combined.pem"),
            auth_mechanism="EXTERNAL"))
        # an encrypted key with its password, and with a wrong one
        await roundtrip(await swiftamqp.connect_url(
            tls.url, tls_ca_file=tls.path("ca.pem"), tls_cert_file=tls.path("client.pem"),
            tls_key_file=tls.path("client-encrypted.key"), tls_key_password=key_password,
            auth_mechanism="EXTERNAL"))
        wrong = "wrong-" + key_password[:8]
        with pytest.raises(swiftamqp.AMQPError) as info:
            await swiftamqp.connect_url(
                tls.url, tls_ca_file=tls.path("ca.pem"), tls_cert_file=tls.path("client.pem"),
                tls_key_file=tls.path("client-encrypted.key"), tls_key_password=wrong,
                auth_mechanism="EXTERNAL", connect_timeout=10)
        for text in (str(info.value), repr(info.value)):
            assert wrong not in text and key_password not in text

    run(main())
