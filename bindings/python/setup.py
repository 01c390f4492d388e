"""Build hooks for `pip install ./bindings/python` (the metadata is in pyproject.toml).

The wheel carries libswiftamqp when one is found at build time: $SWIFTAMQP_LIBRARY, else the
repository's CMake build (../../build/lib/libswiftamqp.so). It is copied into the package as
swiftamqp/libswiftamqp.so.0, which `import swiftamqp` then prefers, and the wheel is tagged for
this platform. Without a library the wheel is pure Python and finds the library at import time
(see swiftamqp/_ffi.py).
"""

import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_NAME = "libswiftamqp.so.0"


def _library_to_bundle():
    path = os.environ.get("SWIFTAMQP_LIBRARY")
    if not path:
        path = os.path.join(HERE, os.pardir, os.pardir, "build", "lib", "libswiftamqp.so")
    path = os.path.realpath(path)
    return path if os.path.isfile(path) else None


LIBRARY = _library_to_bundle()


class BuildPy(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "swiftamqp", BUNDLED_NAME)
        if LIBRARY is None:
            sys.stderr.write("swiftamqp: no libswiftamqp found to bundle (set SWIFTAMQP_LIBRARY or "
                             "build the repository with CMake); the wheel is pure Python\n")
            if os.path.exists(target):
                os.remove(target)
            return
        self.mkpath(os.path.dirname(target))
        shutil.copyfile(LIBRARY, target)
        sys.stderr.write("swiftamqp: bundling %s as swiftamqp/%s\n" % (LIBRARY, BUNDLED_NAME))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return LIBRARY is not None


cmdclass = {"build_py": BuildPy}
try:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel

    class BdistWheel(bdist_wheel):
        def get_tag(self):
            python, abi, plat = super().get_tag()
            if LIBRARY is not None:
                return "py3", "none", plat  # any Python 3: the library is loaded through ctypes
            return python, abi, plat

    cmdclass["bdist_wheel"] = BdistWheel
except ImportError:
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
