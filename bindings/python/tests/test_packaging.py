"""`pip install ./bindings/python` gives a package that finds its library (no broker needed)."""

import ast
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
    proc = subprocess.run([sys.executable, "-c", "import swiftamqp, swiftamqp.blocking, swiftamqp._ffi as f; "
                           "print(swiftamqp.library_path); print(f.version()); print(f.missing_functions)"],
                          env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    path, version, missing = proc.stdout.splitlines()
    assert path == str(bundled)
    assert version == _ffi.version() and missing == repr(_ffi.missing_functions)


# ------------------------------------------------------------------------------------------
# The package's layout: no import cycles, no module too long, each module imports on its own
# ------------------------------------------------------------------------------------------
PACKAGE_DIR = os.path.join(BINDING_DIR, "swiftamqp")
MAX_LINES = 600
#: Modules allowed past MAX_LINES, and why.
def _package_modules():
    """{dotted name: path} of every module of the package (a package by its __init__.py)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py") and name != "_install_prefix.py":
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, BINDING_DIR)[:-3].replace(os.sep, ".")
                modules[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return modules


def _imports(name, path, modules):
    """(the package's modules `name` imports at module level, those it imports inside
    functions). Imports under ``if TYPE_CHECKING:`` are left out: they never run."""
    is_package = path.endswith("__init__.py")
    at_top, in_functions = set(), set()

    def targets(node):
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = name.split(".") if is_package else name.split(".")[:-1]
        if node.level > 1:
            base = base[:-(node.level - 1)]
        parent = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
        return [parent + "." + a.name if parent + "." + a.name in modules else parent for a in node.names]

    def visit(nodes, in_function):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = {t for t in targets(node) if t in modules and t != name and not name.startswith(t + ".")}
                (in_functions if in_function else at_top).update(found)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                visit(node.orelse, in_function)
            else:
                visit(ast.iter_child_nodes(node), in_function or isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    with open(path) as f:
        visit(ast.parse(f.read(), path).body, False)
    return at_top, in_functions


def _in_cycles(graph):
    """The modules on an import cycle or importing one (what is left once modules that import
    nothing left are taken away, again and again)."""
    left = {module: set(imported) for module, imported in graph.items()}
    while True:
        done = [module for module, imported in left.items() if not imported & left.keys()]
        if not done:
            return sorted(left)
        for module in done:
            del left[module]


def test_no_import_cycle():
    """Lower modules never import higher ones: not at module level (which would break on some
    import orders), nor inside a function (an import moved there to dodge a cycle)."""
    modules = _package_modules()
    at_top, everything = {}, {}
    for name, path in modules.items():
        top, in_functions = _imports(name, path, modules)
        at_top[name] = top
        everything[name] = top | in_functions
    assert "swiftamqp.connection" in at_top and "swiftamqp.blocking._channel" in at_top
    assert _in_cycles(at_top) == [], "module-level import cycle among %s" % _in_cycles(at_top)
    assert _in_cycles(everything) == [], "import cycle (counting imports in functions) among %s" % (
        _in_cycles(everything),)


def test_no_module_is_too_long():
    too_long = {}
    for name, path in _package_modules().items():
        with open(path) as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            too_long[name] = lines
    assert too_long == {}, "modules over %d lines (split them along their seams): %s" % (MAX_LINES, too_long)


def test_every_module_imports_on_its_own():
    """Each module imports in a fresh interpreter with the __init__ of its package(s) left out,
    so it brings in what it needs itself, in whatever order."""
    bare = (
        "import importlib, os, sys, types\n"
        "name, root = sys.argv[1], sys.argv[2]\n"
        "parts = name.split('.')\n"
        "for i in range(1, len(parts)):\n"
        "    package = types.ModuleType('.'.join(parts[:i]))\n"
        "    package.__path__ = [os.path.join(root, *parts[:i])]\n"
        "    sys.modules[package.__name__] = package\n"
        "importlib.import_module(name)\n")
    env = dict(os.environ, SWIFTAMQP_LIBRARY=_ffi.library_path,
               PYTHONPATH=os.pathsep.join([BINDING_DIR] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    failed = {}
    for name in sorted(_package_modules()):
        proc = subprocess.run([sys.executable, "-c", bare, name, BINDING_DIR], env=env,
                              capture_output=True, text=True, timeout=60)
        if proc.returncode:
            failed[name] = proc.stderr.strip().splitlines()[-1:]
    assert failed == {}, failed
