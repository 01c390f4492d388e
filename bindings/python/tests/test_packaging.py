"""`pip install ./bindings/python` gives a package that finds its library (no broker needed)."""

import glob
import os
import subprocess
import sys

from conftest import BINDING_DIR

from swiftamqp import _ffi


def test_pip_install_bundles_the_library(tmp_path):
    target = tmp_path / "site"
    env = dict(os.environ, SWIFTAMQP_LIBRARY=_ffi.library_path, PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
                           "--target", str(target), BINDING_DIR],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundled = target / "swiftamqp" / "libswiftamqp.so.0"
    assert bundled.is_file()
    assert (target / "swiftamqp" / "py.typed").is_file()
    wheel_info = glob.glob(str(target / "swiftamqp-*.dist-info" / "WHEEL"))
    assert wheel_info
    with open(wheel_info[0]) as f:
        tags = [line.split(":", 1)[1].strip() for line in f if line.startswith("Tag:")]
    assert tags and all(t.startswith("py3-none-linux_") for t in tags), tags
    # Imported from anywhere, without SWIFTAMQP_LIBRARY, it loads the library it carries.
    env = {k: v for k, v in os.environ.items() if k not in ("SWIFTAMQP_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run([sys.executable, "-c", "import swiftamqp, swiftamqp._ffi as f; "
                           "print(swiftamqp.library_path); print(f.version()); print(f.missing_functions)"],
                          env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    path, version, missing = proc.stdout.splitlines()
    assert path == str(bundled)
    assert version == _ffi.version() and missing == repr(_ffi.missing_functions)
