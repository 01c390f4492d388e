"""Loading libswiftamqp for ctypes, and the few helpers its callers share (status names, the
version, the per-message call without argument conversion).

The declarations of the C API (include/swiftamqp.h) live beside this file and are re-exported
here, so every module uses them as ``_ffi.NAME``: the constants and structs in _ffi_types.py, the
function table (FUNCTIONS) in _ffi_functions.py. Pointers and handles are ``c_void_p`` (a
connection handle is an opaque token, never dereferenced); nothing here knows about asyncio.

The library is looked up, in order:

1. the environment variable ``SWIFTAMQP_LIBRARY`` (a path to the .so); when it is set, it is the
   only candidate, so a wrong value fails loudly instead of silently loading another copy;
2. ``libswiftamqp.so.0`` beside this file, which a wheel built by ``pip install`` carries when a
   library was found at build time (see setup.py);
3. the repository's CMake build, ``build/lib/libswiftamqp.so`` relative to this package
   (``bindings/python/swiftamqp/../../../build/lib``);
4. ``PREFIX/lib`` where PREFIX comes from ``_install_prefix.py``, written at install time (optional);
5. the system library path: ``ctypes.util.find_library("swiftamqp")``, then ``libswiftamqp.so.0``.
"""

import ctypes
import ctypes.util
import os
from ctypes import c_int, c_uint32
from typing import List

from ._ffi_functions import FUNCTIONS
from ._ffi_types import *  # noqa: F401,F403  (the header's constants and structs, as _ffi.NAME)
from ._ffi_types import STATUS_NAMES, _swamqp_field_union  # noqa: F401  (test_ffi checks the union)

__all__ = [
    "LibraryNotFoundError", "MissingFunctionError", "missing_functions", "lib", "library_path", "load_library", "candidate_paths",
]

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
class LibraryNotFoundError(ImportError):
    """libswiftamqp could not be loaded; ``tried`` lists (path, reason) for every candidate."""

    def __init__(self, message, tried=()):
        super().__init__(message)
        self.tried = list(tried)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBNAME = "libswiftamqp.so"


def candidate_paths():
    """The candidates in lookup order, as (description, path or name) pairs."""
    env = os.environ.get("SWIFTAMQP_LIBRARY")
    if env:
        return [("SWIFTAMQP_LIBRARY", env)]
    out = [
        ("bundled with the package", os.path.join(_PACKAGE_DIR, _LIBNAME + ".0")),
        ("repository build",
         os.path.normpath(os.path.join(_PACKAGE_DIR, os.pardir, os.pardir, os.pardir,
                                       "build", "lib", _LIBNAME))),
    ]
    try:
        from . import _install_prefix  # written at install time; optional
        prefix = getattr(_install_prefix, "PREFIX", None)
    except ImportError:
        prefix = None
    if prefix:
        out.append(("install prefix", os.path.join(prefix, "lib", _LIBNAME)))
    found = ctypes.util.find_library("swiftamqp")
    if found:
        out.append(("ctypes.util.find_library", found))
    out.append(("system library path", _LIBNAME + ".0"))
    return out


def load_library():
    """Loads the library, returning (CDLL, path). Raises LibraryNotFoundError listing every try.

    A library that lacks some functions of the header (built from an older source) still loads
    when it has the basic ones; each missing function is listed in ``missing_functions`` and
    raises :class:`MissingFunctionError` when called.
    """
    tried = []
    for what, path in candidate_paths():
        if os.sep in path and not os.path.exists(path):
            tried.append((what, path, "no such file"))
            continue
        try:
            handle = ctypes.CDLL(path)
        except OSError as exc:
            tried.append((what, path, str(exc)))
            continue
        missing = _declare(handle, path)
        if set(missing) & _REQUIRED:
            tried.append((what, path, "not libswiftamqp (or too old): lacks %s"
                          % ", ".join(sorted(set(missing) & _REQUIRED))))
            continue
        missing_functions[:] = missing
        return handle, path
    lines = ["libswiftamqp could not be loaded. Tried:"]
    lines += ["  %s (%s): %s" % (path, what, why) for what, path, why in tried]
    lines.append("Set SWIFTAMQP_LIBRARY to the path of libswiftamqp.so, or build the library "
                 "(it is expected at build/lib/libswiftamqp.so in the repository).")
    raise LibraryNotFoundError("\n".join(lines), tried)


class MissingFunctionError(AttributeError):
    """The loaded libswiftamqp does not export a function of the header (it is older)."""


#: Functions without which the library is not taken at all.
_REQUIRED = frozenset([
    "swamqp_version", "swamqp_status_string", "swamqp_connection_options_init",
    "swamqp_connection_create", "swamqp_connection_open_async", "swamqp_connection_free",
    "swamqp_connection_event_fd", "swamqp_next_events", "swamqp_basic_publish",
])

#: Header functions the loaded library lacks (empty for a library built from this header).
missing_functions: List[str] = []


def _missing(name, path):
    def call(*args, **kwargs):
        raise MissingFunctionError("%s is not exported by %s (a library older than the header "
                                   "this binding was written for)" % (name, path))
    call.__name__ = name
    return call


def _declare(handle, path):
    missing = []
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(handle, name)
        except AttributeError:
            missing.append(name)
            setattr(handle, name, _missing(name, path))
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return missing


lib, library_path = load_library()


def _unchecked(name):
    """`name` without argtypes, for the calls made per message: ctypes then converts no argument
    (for swamqp_basic_publish that conversion is half the call's cost), so each argument must be
    passed as what C expects: pointers, structs and 64-bit values as ctypes objects (c_void_p,
    the struct, byref(), c_uint64), other integers as a Python int below 2**31, NULL as None.
    test_ffi checks that these functions are the header's (same name, same library)."""
    fn = lib._FuncPtr((name, lib))
    fn.restype = c_int
    return fn


#: swamqp_basic_publish without argument conversion (see _unchecked).
unchecked_basic_publish = _unchecked("swamqp_basic_publish")


def c_timeout(ms):
    """A timeout_ms argument for an unchecked function: an int, or c_uint32 past int's range."""
    return ms if ms < 0x80000000 else c_uint32(ms)


def status_name(status):
    """The symbolic name of a status ("SWAMQP_ERR_TIMEOUT"), from the library when it knows it."""
    name = STATUS_NAMES.get(status)
    if name is None:
        raw = lib.swamqp_status_string(status)
        name = raw.decode("ascii", "replace") if raw else "status %d" % status
    return name


def version():
    """The loaded library's version string."""
    return lib.swamqp_version().decode("ascii", "replace")
