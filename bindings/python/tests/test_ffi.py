"""The ctypes declarations against the header, and library loading (no broker needed)."""

import ctypes
import os
import re
import shutil
import subprocess
import sys

from swiftamqp import _ffi

from conftest import BINDING_DIR

HEADER = os.path.join(BINDING_DIR, os.pardir, os.pardir, "include", "swiftamqp.h")

# sizeof / offsetof as a C compiler gives them for the header on LP64 Linux (x86_64, aarch64).
LAYOUT = {
    "swamqp_error": (528, {"reply_code": 8, "channel": 14, "message": 16}),
    "swamqp_bytes": (16, {"len": 8}),
    "swamqp_table": (16, {"entries": 8}),
    "swamqp_array": (16, {"values": 8}),
    "swamqp_decimal": (8, {"value": 4}),
    "swamqp_field_value": (24, {"value": 8}),
    "swamqp_table_entry": (40, {"value": 16}),
    "swamqp_properties": (200, {"content_type": 8, "headers": 40, "delivery_mode": 56,
                                "priority": 57, "correlation_id": 64, "timestamp": 128,
                                "type": 136, "cluster_id": 184}),
    "swamqp_message": (304, {"redelivered": 2, "delivery_tag": 8, "consumer_tag": 16,
                             "message_count": 64, "reply_code": 68, "reply_text": 72,
                             "properties": 88, "body": 288}),
    "swamqp_connection_options": (224, {"port": 8, "vhost": 16, "heartbeat": 40, "frame_max": 44,
                                        "channel_max": 48, "connect_timeout_ms": 52,
                                        "connection_name": 56, "max_message_size": 64,
                                        "outbound_limit": 80, "auth_mechanism": 88,
                                        "max_unconfirmed": 92, "socket_fd": 96,
                                        "automatic_recovery": 100,
                                        "recovery_initial_delay_ms": 104, "recovery_max_attempts": 112,
                                        "endpoints": 120, "endpoint_count": 128, "tls": 136,
                                        "tls_ca_file": 144, "tls_ca_certificate_count": 168,
                                        "tls_ciphers": 208, "tls_insecure_skip_verify": 216,
                                        "tls_insecure_skip_hostname_check": 217}),
    "swamqp_endpoint": (16, {"port": 8}),
    "swamqp_event": (104, {"channel": 8, "flags": 12, "request_id": 16, "message_count": 32,
                           "log_level": 40, "name": 48, "message": 64, "error": 72,
                           "frame_type": 80, "class_id": 82, "method_id": 84, "payload": 88}),
    "swamqp_queue_declare_ok": (272, {"name_len": 256, "consumer_count": 268}),
    "swamqp_name": (264, {"len": 256}),
    "swamqp_stats": (96, {"frames_out": 8, "deliveries": 56, "events_queued_bytes": 88}),
}


def test_struct_layout_matches_c():
    for name, (size, offsets) in LAYOUT.items():
        cls = getattr(_ffi, name)
        assert ctypes.sizeof(cls) == size, name
        for field, offset in offsets.items():
            assert getattr(cls, field).offset == offset, (name, field)


def _c_structs():
    """Every ctypes Structure of _ffi that has a C typedef of the same name."""
    return {name: cls for name, cls in vars(_ffi).items()
            if name.startswith("swamqp_") and isinstance(cls, type)
            and issubclass(cls, ctypes.Structure)}


def test_struct_layout_matches_the_compiler(tmp_path):
    """sizeof and every field's offsetof, as the C compiler computes them from the header."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    assert compiler, "no C compiler on PATH to check the layout against (set CC)"
    structs = _c_structs()
    assert set(LAYOUT) <= set(structs)
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "swiftamqp.h"', "int main(void) {"]
    expected = []
    for name, cls in sorted(structs.items()):
        lines.append('printf("%%zu\\n", sizeof(%s));' % name)
        expected.append(("sizeof", name, ctypes.sizeof(cls)))
        for field in cls._fields_:
            fname = field[0]
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (name, fname))
            expected.append(("offsetof", "%s.%s" % (name, fname), getattr(cls, fname).offset))
    for member in ("boolean", "u64", "f64", "decimal", "bytes", "array", "table"):
        lines.append('printf("%%zu\\n", offsetof(swamqp_field_value, value.%s));' % member)
        expected.append(("offsetof", "swamqp_field_value.value." + member,
                         _ffi.swamqp_field_value.value.offset + getattr(_ffi._swamqp_field_union, member).offset))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([compiler, "-std=c11", "-I", os.path.dirname(HEADER), "-o", str(exe), str(src)],
                   check=True, capture_output=True, text=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    assert len(got) == len(expected)
    wrong = [(what, name, py, int(c)) for (what, name, py), c in zip(expected, got) if py != int(c)]
    assert not wrong, "ctypes differs from C (what, name, ctypes, C): %r" % wrong


def test_library_exports_every_header_function():
    assert _ffi.missing_functions == [], (
        "%s lacks %d functions of the header: %s" % (
            _ffi.library_path, len(_ffi.missing_functions), ", ".join(_ffi.missing_functions)))


def test_unchecked_functions_are_the_headers():
    """The per-message calls made without argtypes are the same library functions."""
    checked = ctypes.cast(_ffi.lib.swamqp_basic_publish, ctypes.c_void_p).value
    assert ctypes.cast(_ffi.unchecked_basic_publish, ctypes.c_void_p).value == checked
    assert _ffi.unchecked_basic_publish.argtypes is None
    assert _ffi.unchecked_basic_publish.restype is ctypes.c_int
    assert _ffi.c_timeout(5) == 5 and _ffi.c_timeout(0xFFFFFFFF).value == 0xFFFFFFFF


def test_every_header_function_is_declared():
    with open(HEADER) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    header_only = set(re.findall(r"static inline \w+ (swamqp_\w+)\s*\(", text))
    assert header_only == {"swamqp_cstr"}
    names = set(re.findall(r"\b(swamqp_\w+)\s*\(", text)) - {"swamqp_event_callback"} - header_only
    assert names == set(_ffi.FUNCTIONS)
    for name in names - set(_ffi.missing_functions):  # (test_library_exports... reports those)
        assert getattr(_ffi.lib, name).argtypes is not None or name in (
            "swamqp_version", "swamqp_version_number")


def _header_constants():
    """Every enumerator of the header: name -> value (integers, `1u << n`, character literals)."""
    with open(HEADER) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    constants = {}
    for name, expr in re.findall(r"^\s*(SWAMQP_[A-Z0-9_]+)\s*=\s*([^,\n}]+)", text, flags=re.M):
        expr = expr.strip()
        shift = re.fullmatch(r"1u?\s*<<\s*(\d+)", expr)
        char = re.fullmatch(r"'(.)'", expr)
        constants[name] = (1 << int(shift.group(1)) if shift else ord(char.group(1)) if char
                           else int(expr, 0))
    return constants


def test_every_header_constant_has_the_headers_value():
    """The header is the one source of the status codes, event types, flags and field kinds;
    _ffi repeats them for ctypes, so they are compared here one by one."""
    constants = _header_constants()
    assert len(constants) > 100
    assert "SWAMQP_ERR_TIMEOUT" in constants and "SWAMQP_NOWAIT" in constants
    wrong = {name: (value, getattr(_ffi, name, None)) for name, value in constants.items()
             if getattr(_ffi, name, None) != value}
    assert wrong == {}, "header value vs _ffi value"
    for name, value in constants.items():
        if name == "SWAMQP_OK" or name.startswith("SWAMQP_ERR_"):
            assert _ffi.status_name(value) == name
            assert _ffi.lib.swamqp_status_string(value) == name.encode()


def test_version_is_the_headers():
    with open(HEADER) as f:
        header_version = re.search(r'#define\s+SWAMQP_VERSION_STRING\s+"([^"]+)"', f.read()).group(1)
    with open(os.path.join(BINDING_DIR, "pyproject.toml")) as f:
        project_version = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), flags=re.M).group(1)
    import swiftamqp
    assert _ffi.version() == header_version == swiftamqp.__version__ == project_version


def test_version():
    assert re.match(r"^\d+\.\d+\.\d+", _ffi.version())
    assert _ffi.lib.swamqp_version_number() >= 100
    assert _ffi.status_name(-200) == "SWAMQP_ERR_TIMEOUT"
    assert _ffi.lib.swamqp_status_string(-200) == b"SWAMQP_ERR_TIMEOUT"


def _import_in_subprocess(env_updates, pythonpath, cwd, drop=("SWIFTAMQP_LIBRARY",)):
    env = {k: v for k, v in os.environ.items() if k not in drop and k != "LD_LIBRARY_PATH"}
    env.update(env_updates)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", "import swiftamqp; print(swiftamqp.library_path)"],
                          env=env, cwd=str(cwd), capture_output=True, text=True, timeout=60)


def test_bogus_library_path_is_reported(tmp_path):
    bogus = str(tmp_path / "no" / "libswiftamqp.so")
    proc = _import_in_subprocess({"SWIFTAMQP_LIBRARY": bogus}, BINDING_DIR, tmp_path)
    assert proc.returncode != 0
    assert "LibraryNotFoundError" in proc.stderr
    assert bogus in proc.stderr and "SWIFTAMQP_LIBRARY" in proc.stderr


def test_not_a_library_is_reported(tmp_path):
    fake = tmp_path / "libswiftamqp.so"
    fake.write_bytes(b"not an ELF file")
    proc = _import_in_subprocess({"SWIFTAMQP_LIBRARY": str(fake)}, BINDING_DIR, tmp_path)
    assert proc.returncode != 0
    assert str(fake) in proc.stderr


def test_search_lists_every_path_tried(tmp_path):
    # A copy of the package where no repository build is beside it, with an install prefix.
    root = tmp_path / "a" / "b"
    shutil.copytree(os.path.join(BINDING_DIR, "swiftamqp"), str(root / "swiftamqp"),
                    ignore=shutil.ignore_patterns("__pycache__", "_install_prefix.py"))
    prefix = tmp_path / "prefix"
    (root / "swiftamqp" / "_install_prefix.py").write_text("PREFIX = %r\n" % str(prefix))
    proc = _import_in_subprocess({}, str(root), tmp_path)
    if proc.returncode == 0:
        # A system-wide install answered the last step; the earlier ones were still tried first.
        assert str(tmp_path) not in proc.stdout
        return
    err = proc.stderr
    repo_build = os.path.join(str(tmp_path), "build", "lib", "libswiftamqp.so")
    assert repo_build in err
    assert os.path.join(str(prefix), "lib", "libswiftamqp.so") in err
    assert "libswiftamqp.so.0" in err
    bundled = os.path.join(str(root), "swiftamqp", "libswiftamqp.so.0")
    system = "  libswiftamqp.so.0 (system library path)"
    assert bundled in err and system in err
    assert err.index(bundled) < err.index(repo_build) < err.index(str(prefix)) < err.index(system)


def test_candidate_order(monkeypatch):
    monkeypatch.delenv("SWIFTAMQP_LIBRARY", raising=False)
    names = [what for what, _ in _ffi.candidate_paths()]
    assert names[:2] == ["bundled with the package", "repository build"]
    assert names[-1] == "system library path"
    monkeypatch.setenv("SWIFTAMQP_LIBRARY", "/x/libswiftamqp.so")
    assert _ffi.candidate_paths() == [("SWIFTAMQP_LIBRARY", "/x/libswiftamqp.so")]
