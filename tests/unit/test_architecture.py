"""The house's rules, read from the code itself (docs/architecture.md): every import of the
package resolves, imports only go down the layers, and no check imports another check."""

import ast
import importlib
import pathlib

import pytest

import lvs_dr_checks
from lvs_dr_checks.entry import PLUGINS

PACKAGE = pathlib.Path(lvs_dr_checks.__file__).parent

# Layer of each top-level module or subpackage, lowest first: a module imports only from
# lower layers, or from its own subpackage (a check from no other check: the modules of
# checks/ that entry.PLUGINS names; checks/sweep.py, the pool, is no check).
CHECKS = {module for module, _ in PLUGINS.values()}
LAYERS = {
    "__init__": 0, "errors": 0, "kernel": 0,
    "cli": 1,
    "summary": 2,
    "source": 3,
    "host": 4, "boot": 4, "wire": 4,
    "router": 5,
    "options": 6,
    "watch": 7,
    "checks": 8,
    "entry": 9,
}


def modules():
    return sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py"))


def dotted(relative):
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(["lvs_dr_checks"] + parts)


def imported(relative):
    """(line, dotted module, name or None) of every import of the package in the file,
    function-level ones included."""
    tree = ast.parse((PACKAGE / relative).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lvs_dr_checks":
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "lvs_dr_checks":
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def target_of(module, name):
    """The dotted module an import reaches: a submodule when ``name`` is one."""
    if name is not None and importlib.util.find_spec(module) is not None and \
            importlib.util.find_spec(module).submodule_search_locations is not None:
        candidate = module + "." + name
        if importlib.util.find_spec(candidate) is not None:
            return candidate
    return module


def place(module):
    """(layer name, the part below it) of a dotted module: ('checks', 'vip_on_lo')."""
    parts = module.split(".")[1:] or ["__init__"]
    return parts[0], ".".join(parts[1:2])


def test_every_module_has_a_layer():
    assert {place(dotted(m))[0] for m in modules()} <= set(LAYERS)


@pytest.mark.parametrize("relative", modules(), ids=str)
def test_every_import_resolves(relative):
    for line, module, name in imported(relative):
        loaded = importlib.import_module(module)
        if name is not None:
            assert hasattr(loaded, name) or importlib.util.find_spec(module + "." + name), \
                "{}:{}: from {} import {}: no such name".format(relative, line, module, name)


@pytest.mark.parametrize("relative", modules(), ids=str)
def test_imports_only_go_down(relative):
    here, here_part = place(dotted(relative))
    wrong = []
    for line, module, name in imported(relative):
        there, there_part = place(target_of(module, name))
        if there == here:
            if here == "checks" and {here_part, there_part} <= CHECKS and there_part != here_part:
                wrong.append("{}:{}: a check imports another check ({})".format(
                    relative, line, there_part))
        elif LAYERS[there] >= LAYERS[here]:
            wrong.append("{}:{}: {} ({}) imports {} ({}), {}".format(
                relative, line, here, LAYERS[here], there, LAYERS[there],
                "sideways" if LAYERS[there] == LAYERS[here] else "upwards"))
    assert wrong == []


def test_the_rule_sees_what_it_forbids():
    """The rule itself, on imports it must refuse."""
    assert place("lvs_dr_checks.checks.vip_on_lo") == ("checks", "vip_on_lo")
    assert LAYERS[place("lvs_dr_checks.host.links")[0]] == LAYERS[place(
        "lvs_dr_checks.boot.netplan")[0]]  # host and boot: sideways, refused
    assert LAYERS["checks"] > LAYERS["router"] > LAYERS["host"] > LAYERS["source"]
    assert {"arp_sysctl", "vip_on_lo", "realservers"} <= CHECKS and "sweep" not in CHECKS


MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("relative", modules(), ids=str)
def test_modules_and_functions_stay_small(relative):
    """A module a reader can hold: at most 600 lines, no function over 60."""
    text = (PACKAGE / relative).read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = ["{} ({} lines)".format(node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


TYPED = ("kernel.py", "source/local.py", "host", "boot", "router")


def typed_modules():
    return [m for m in modules() if any(str(m) == t or str(m).startswith(t + "/") for t in TYPED)]


@pytest.mark.parametrize("relative", typed_modules(), ids=str)
def test_public_functions_of_the_typed_layers_are_annotated(relative):
    """kernel, the Source face, host/, boot/, router/: every public function and method says
    what it takes and gives (make lint runs mypy on them)."""
    tree = ast.parse((PACKAGE / relative).read_text())
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)] + [
        m for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_")
        for m in c.body if isinstance(m, ast.FunctionDef)]
    bare = [f.name for f in functions if not f.name.startswith("_") and (
        f.returns is None or any(a.annotation is None for a in f.args.args
                                 if a.arg not in ("self", "cls")))]
    assert bare == []
