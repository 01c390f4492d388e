"""TLS settings for :func:`swiftamqp.connect`'s ``ssl=`` argument.

``ssl`` takes ``True`` (TLS with the defaults: the broker's certificate is verified against the
system CAs, and its host name checked), a :class:`TLSOptions`, or an :class:`ssl.SSLContext`
(what asynqp programs passed on to ``loop.create_connection``). ``None`` or ``False`` add nothing
(plain TCP for :func:`~swiftamqp.connect`; an ``amqps://`` URL stays TLS). The TLS itself is
done by the system OpenSSL inside libswiftamqp, so an ``SSLContext`` is translated:

- ``verify_mode == CERT_NONE`` -> ``tls_insecure_skip_verify``;
- ``check_hostname == False`` (with verification) -> ``tls_insecure_skip_hostname_check``;
- the CA certificates it holds (``get_ca_certs(binary_form=True)``) -> ``tls_ca_certificates``;
  when it lists none (e.g. the system CAs sit in a hashed directory, which OpenSSL reads lazily),
  the library uses the system CAs, as OpenSSL's default paths would;
- ignored: ``minimum_version``/``maximum_version``, ``options`` and the cipher list (the library
  uses OpenSSL's defaults; pass ``TLSOptions(ciphers=...)`` for a cipher list), a ``capath``
  given to ``load_verify_locations`` (not listed until used: pass ``TLSOptions(ca_dir=...)``),
  ALPN, session and key-log settings;
- a client certificate cannot be read back from an ``SSLContext``: ``connect(ssl=context)``
  raises ValueError for a context on which ``load_cert_chain`` was called (see below); pass the
  files as ``TLSOptions(cert_file=..., key_file=...)`` instead.

Python's ``ssl`` module has no call that tells whether a context holds a client certificate.
Importing swiftamqp therefore wraps ``ssl.SSLContext.load_cert_chain`` (the class in ``ssl.py``):
the wrapper calls the original with the same arguments, returns what it returns, and, when it
succeeded, remembers the context in a ``weakref.WeakSet``. Contexts given a certificate before
swiftamqp was imported are not noticed (the certificate would then be silently left out).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import ssl as _ssl
import weakref
from typing import Any, Dict, Optional, Sequence, Union

__all__ = ["TLSOptions"]

_PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class TLSOptions:
    """TLS settings for ``connect(..., ssl=TLSOptions(...))``; every field is optional.

    ``ca_file`` (PEM), ``ca_dir`` (OpenSSL hashed directory), ``ca_certificates`` (DER bytes):
    the CAs to trust instead of the system's. ``cert_file`` / ``key_file`` / ``key_password``:
    a client certificate (mutual TLS, ``auth_mechanism='EXTERNAL'``); ``key_file`` None: the key
    is in ``cert_file``. ``server_name``: SNI and the name the certificate must carry (default:
    the host connected to). ``ciphers``: OpenSSL cipher list for TLS 1.2.
    ``insecure_skip_verify`` / ``insecure_skip_hostname_check``: turn the checks off.
    ``key_password`` never appears in ``repr()``.
    """

    ca_file: Optional[_PathLike] = None
    ca_dir: Optional[_PathLike] = None
    ca_certificates: Optional[Sequence[bytes]] = None
    cert_file: Optional[_PathLike] = None
    key_file: Optional[_PathLike] = None
    key_password: Optional[str] = dataclasses.field(default=None, repr=False)
    server_name: Optional[str] = None
    ciphers: Optional[str] = None
    insecure_skip_verify: bool = False
    insecure_skip_hostname_check: bool = False

    def __post_init__(self) -> None:
        for name in ("ca_file", "ca_dir", "cert_file", "key_file"):
            value = getattr(self, name)
            if value is not None:
                value = os.fspath(value)
                if not isinstance(value, str):
                    raise TypeError("TLSOptions.%s must be a str or os.PathLike of str" % name)
                object.__setattr__(self, name, value)
        for name in ("key_password", "server_name", "ciphers"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError("TLSOptions.%s must be a str, not %s" % (name, type(value).__name__))
        if self.ca_certificates is not None:
            if isinstance(self.ca_certificates, (bytes, bytearray, memoryview, str)):
                raise TypeError("TLSOptions.ca_certificates must be a list of DER certificates (bytes)")
            certificates = tuple(bytes(c) for c in self.ca_certificates)
            object.__setattr__(self, "ca_certificates", certificates)

    def _connect_options(self) -> Dict[str, Any]:
        """The tls_* keyword options of connect() these settings stand for."""
        options: Dict[str, Any] = {"tls": True}
        for name in ("ca_file", "ca_dir", "ca_certificates", "cert_file", "key_file", "key_password",
                     "server_name", "ciphers"):
            value = getattr(self, name)
            if value is not None:
                options["tls_" + name] = list(value) if name == "ca_certificates" else value
        options["tls_insecure_skip_verify"] = bool(self.insecure_skip_verify)
        options["tls_insecure_skip_hostname_check"] = bool(self.insecure_skip_hostname_check)
        return options


# ----------------------------------------------------------------------------------------
# SSLContext: which contexts were given a client certificate
# ----------------------------------------------------------------------------------------
_with_client_certificate: "weakref.WeakSet[_ssl.SSLContext]" = weakref.WeakSet()


def _wrap_load_cert_chain() -> None:
    original = _ssl.SSLContext.load_cert_chain
    if getattr(original, "_swiftamqp_wrapper", False):
        return  # already wrapped (the module was imported again)

    @functools.wraps(original)
    def load_cert_chain(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        _with_client_certificate.add(self)
        return result

    load_cert_chain._swiftamqp_wrapper = True  # type: ignore[attr-defined]
    _ssl.SSLContext.load_cert_chain = load_cert_chain  # type: ignore[method-assign]


_wrap_load_cert_chain()

_CLIENT_CERTIFICATE_ERROR = (
    "a client certificate loaded into an ssl.SSLContext cannot be handed to the library; "
    "pass it as swiftamqp.TLSOptions(cert_file=..., key_file=...)")


def _context_options(context: _ssl.SSLContext) -> Dict[str, Any]:
    if context in _with_client_certificate:
        raise ValueError(_CLIENT_CERTIFICATE_ERROR)
    if context.protocol == _ssl.PROTOCOL_TLS_SERVER:
        raise ValueError("ssl: a server-side SSLContext (PROTOCOL_TLS_SERVER) cannot make client connections")
    options: Dict[str, Any] = {"tls": True}
    if context.verify_mode == _ssl.CERT_NONE:
        options["tls_insecure_skip_verify"] = True
        return options
    # CERT_OPTIONAL and CERT_REQUIRED verify alike on the client side (a server always sends one)
    options["tls_insecure_skip_verify"] = False
    options["tls_insecure_skip_hostname_check"] = not context.check_hostname
    certificates = context.get_ca_certs(binary_form=True)
    if certificates:
        options["tls_ca_certificates"] = list(certificates)
    return options


def ssl_options(ssl: Any) -> Dict[str, Any]:
    """The tls_* keyword options for connect()'s ``ssl`` argument (see the module docstring)."""
    if ssl is None or ssl is False:
        return {}
    if ssl is True:
        return {"tls": True}
    if isinstance(ssl, TLSOptions):
        return ssl._connect_options()
    if isinstance(ssl, _ssl.SSLContext):
        return _context_options(ssl)
    raise TypeError("ssl must be True, False, None, a swiftamqp.TLSOptions or an ssl.SSLContext, "
                    "not %s" % type(ssl).__name__)


def merge_ssl(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """`kwargs` without ``ssl``, with the options it stands for; explicit tls_* kwargs win."""
    if "ssl" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    derived = ssl_options(kwargs.pop("ssl"))
    for name, value in derived.items():
        if kwargs.get(name) is None:
            kwargs[name] = value
    return kwargs
