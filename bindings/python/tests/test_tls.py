"""TLS (the system OpenSSL inside the library) against the TLS listener of `scripts/broker start
NAME --tls`: AMQPS_URL and SWIFTAMQP_TLS_DIR are required (scripts/test sets them)."""

import dataclasses
import os
import pathlib
import ssl
import urllib.parse

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


# ----------------------------------------------------------------------------------------
# connect(..., ssl=True | TLSOptions | ssl.SSLContext)
# ----------------------------------------------------------------------------------------
def broker_address(tls):
    parts = urllib.parse.urlsplit(tls.url)
    return dict(host=parts.hostname, port=parts.port or 5671,
                username=urllib.parse.unquote(parts.username or "guest"),
                password=urllib.parse.unquote(parts.password or "guest"))


def test_tls_options_repr_hides_the_key_password():
    options = swiftamqp.TLSOptions(cert_file="c.pem", key_file="c.key", key_password="s3cret-pw")
    assert "s3cret-pw" not in repr(options) and "s3cret-pw" not in str(options)
    assert "cert_file='c.pem'" in repr(options)
    assert options.key_password == "s3cret-pw"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.ca_file = "x"
    # paths may be os.PathLike; DER lists become tuples (the options stay hashable)
    options = swiftamqp.TLSOptions(ca_file=pathlib.Path("/tmp/ca.pem"), ca_certificates=[b"\x30\x00"])
    assert options.ca_file == "/tmp/ca.pem" and options.ca_certificates == (b"\x30\x00",)
    hash(options)
    with pytest.raises(TypeError):
        swiftamqp.TLSOptions(ca_certificates=b"\x30\x00")
    with pytest.raises(TypeError):
        swiftamqp.TLSOptions(server_name=5)


def test_ssl_argument_is_checked():
    async def main():
        with pytest.raises(TypeError, match="ssl must be"):
            await swiftamqp.connect("localhost", 5671, ssl="yes")
        with pytest.raises(ValueError, match="server-side"):
            await swiftamqp.connect("localhost", 5671, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))

    run(main())


def test_ssl_true_verifies_against_the_system_cas(tls):
    address = broker_address(tls)

    async def main():
        # the test CA is not among the system's: OpenSSL's reason is in the error
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=True, connect_timeout=10, **address)
        assert info.value.status_name == "SWAMQP_ERR_TLS"
        assert "certificate verify failed" in str(info.value)
        # ssl=None / False leave a connection plain: the TLS port then fails the AMQP handshake
        with pytest.raises(swiftamqp.AMQPError) as info:
            await swiftamqp.connect(ssl=False, connect_timeout=5, **address)
        assert info.value.status_name != "SWAMQP_ERR_TLS"

    run(main())


def test_ssl_tls_options(tls):
    address = broker_address(tls)
    with open(tls.path("ca.der"), "rb") as f:
        der = f.read()

    async def main():
        await roundtrip(await swiftamqp.connect(ssl=swiftamqp.TLSOptions(ca_file=tls.path("ca.pem")), **address))
        await roundtrip(await swiftamqp.connect(ssl=swiftamqp.TLSOptions(ca_dir=tls.path("cadir")), **address))
        await roundtrip(await swiftamqp.connect(ssl=swiftamqp.TLSOptions(ca_certificates=[der]), **address))
        await roundtrip(await swiftamqp.connect_url(tls.url, ssl=swiftamqp.TLSOptions(ca_file=tls.path("ca.pem"))))
        # a name the certificate does not carry fails; the loudly named switch accepts it
        wrong = swiftamqp.TLSOptions(ca_file=tls.path("ca.pem"), server_name="wrong.example")
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=wrong, connect_timeout=10, **address)
        assert "certificate verify failed" in str(info.value) and "hostname mismatch" in str(info.value)
        await roundtrip(await swiftamqp.connect(ssl=dataclasses.replace(wrong, insecure_skip_hostname_check=True),
                                                **address))
        # a CA that did not sign the broker's certificate, then no verification at all
        other = swiftamqp.TLSOptions(ca_file=tls.path("other-ca.pem"))
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=other, connect_timeout=10, **address)
        assert "certificate verify failed" in str(info.value)
        await roundtrip(await swiftamqp.connect(ssl=swiftamqp.TLSOptions(insecure_skip_verify=True), **address))
        # explicit tls_* keyword options win over what ssl says
        await roundtrip(await swiftamqp.connect(ssl=other, tls_ca_file=tls.path("ca.pem"), **address))

    run(main())


def test_ssl_context_is_translated(tls):
    address = broker_address(tls)

    async def main():
        # asynqp programs: ssl.create_default_context(cafile=...) (plus the system CAs it loads)
        context = ssl.create_default_context(cafile=tls.path("ca.pem"))
        await roundtrip(await swiftamqp.connect(ssl=context, **address))
        await roundtrip(await swiftamqp.connect_url(tls.url, ssl=context))
        # the host name is checked: the certificate names 127.0.0.1 too, not wrong.example
        await roundtrip(await swiftamqp.connect(ssl=context, **dict(address, host="127.0.0.1")))
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=context, tls_server_name="wrong.example", connect_timeout=10, **address)
        assert "hostname mismatch" in str(info.value)
        # check_hostname=False: the chain is still verified, the name no longer
        unchecked = ssl.create_default_context(cafile=tls.path("ca.pem"))
        unchecked.check_hostname = False
        await roundtrip(await swiftamqp.connect(ssl=unchecked, tls_server_name="wrong.example", **address))
        untrusted = ssl.create_default_context(cafile=tls.path("other-ca.pem"))
        untrusted.check_hostname = False
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=untrusted, connect_timeout=10, **address)
        assert "certificate verify failed" in str(info.value)
        # a context holding only the test CA (DER through cadata)
        with open(tls.path("ca.der"), "rb") as f:
            only = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            only.load_verify_locations(cadata=f.read())
        await roundtrip(await swiftamqp.connect(ssl=only, **address))
        # a default context without the test CA: the system CAs do not know it
        with pytest.raises(swiftamqp.ConnectError) as info:
            await swiftamqp.connect(ssl=ssl.create_default_context(), connect_timeout=10, **address)
        assert "certificate verify failed" in str(info.value)
        # verify_mode CERT_NONE: connects without the CA
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        await roundtrip(await swiftamqp.connect(ssl=insecure, **address))

    run(main())


def test_ssl_context_with_a_client_certificate_points_to_tls_options(tls):
    context = ssl.create_default_context(cafile=tls.path("ca.pem"))
    assert context.load_cert_chain(tls.path("client.pem"), tls.path("client.key")) is None
    # the wrapped load_cert_chain behaves as the original
    failed = ssl.create_default_context()
    with pytest.raises(FileNotFoundError):
        failed.load_cert_chain(tls.path("does-not-exist.pem"))
    with pytest.raises(ssl.SSLError):
        failed.load_cert_chain(tls.path("ca.pem"))  # no private key in it
    assert ssl.SSLContext.load_cert_chain.__name__ == "load_cert_chain"

    async def main():
        with pytest.raises(ValueError) as info:
            await swiftamqp.connect(ssl=context, **broker_address(tls))
        message = str(info.value)
        assert "client certificate" in message and "swiftamqp.TLSOptions(cert_file=..., key_file=...)" in message
        with pytest.raises(ValueError, match="TLSOptions"):
            await swiftamqp.connect_url(tls.url, ssl=context)
        # a context whose load_cert_chain failed holds no certificate: it is used as it is
        failed.load_verify_locations(tls.path("ca.pem"))
        await roundtrip(await swiftamqp.connect(ssl=failed, **broker_address(tls)))

    run(main())


def test_external_login_with_tls_options(tls):
    address = broker_address(tls)
    with open(tls.path("client-key.password")) as f:
        key_password = f.read().strip()

    async def main():
        options = swiftamqp.TLSOptions(ca_file=tls.path("ca.pem"), cert_file=tls.path("client.pem"),
                                       key_file=tls.path("client.key"))
        await roundtrip(await swiftamqp.connect(ssl=options, auth_mechanism="EXTERNAL",
                                                **dict(address, password="not-the-password")))
        encrypted = dataclasses.replace(options, key_file=tls.path("client-encrypted.key"),
                                        key_password=key_password)
        assert key_password not in repr(encrypted)
        await roundtrip(await swiftamqp.connect_url(tls.url, ssl=encrypted, auth_mechanism="EXTERNAL"))

    run(main())


def test_connect_url_amqps_with_cacertfile(tls):
    sep = "&" if "?" in tls.url else "?"

    async def main():
        await roundtrip(await swiftamqp.connect_url(tls.url + sep + "cacertfile=" + tls.path("ca.pem")))
        # ssl=None adds nothing: the amqps:// URL stays TLS
        await roundtrip(await swiftamqp.connect_url(tls.url + sep + "cacertfile=" + tls.path("ca.pem"), ssl=None))

    run(main())
