"""The house's rules, checked on the code's own imports (docs/architecture.md):

- no import cycle between modules, TYPE_CHECKING imports included;
- each layer imports only layers below it;
- another package is imported through its public API (``from ..model import Account``),
  never a module inside it, and nothing reaches for another module's private names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SIM = Path(__file__).resolve().parent.parent / "sim"
# From the bottom up; a module may import its own package and the layers below.
LAYERS = {"model": 0, "scenario": 1, "behaviour": 2, "results": 3, "sweeps": 4, "stats": 4.5,
          "plots": 5, "report": 5.5, "cli": 6, "__init__": 7, "__main__": 7}
PUBLIC_UNDERSCORED = {"_replace", "_fields", "_asdict", "_make", "_exit"}  # NamedTuple's, os._exit


def modules() -> dict[str, Path]:
    """Dotted name → file, for every module of the package."""
    out = {}
    for path in sorted(SIM.rglob("*.py")):
        parts = path.relative_to(SIM.parent).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def package_of(module: str) -> str:
    """The layer a module belongs to: its package under sim, or its own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(module: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import of ``module``'s file."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "sim" or target.startswith("sim."):
                names = [a.name for a in node.names]
                # "from . import traffic": the submodules themselves
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules()]
                found += [(s, []) for s in subs] or [(target, names)]
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name == "sim" or a.name.startswith("sim.")]
    return found


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module, path in modules().items():
        g.add_node(module)
        for target, _ in imports(module, path):
            g.add_edge(module, target)
    return g


def test_no_import_cycle() -> None:
    g = graph()
    g.remove_nodes_from(["sim"])  # the top-level API imports everything and nothing imports it
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles}"


def test_each_layer_imports_only_layers_below() -> None:
    upward = []
    for module, path in modules().items():
        here = package_of(module)
        for target, _ in imports(module, path):
            there = package_of(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                upward.append(f"{module} imports {target}")
    assert not upward, upward


def test_other_packages_are_imported_through_their_public_api() -> None:
    wrong = []
    packages = {package_of(m) for m, p in modules().items() if p.name == "__init__.py"} - {"__init__"}
    for module, path in modules().items():
        here = package_of(module)
        for target, names in imports(module, path):
            there = package_of(target)
            if there != here and there in packages and target != f"sim.{there}":
                wrong.append(f"{module} imports {target} (use sim.{there})")
            wrong += [f"{module} takes the private {n} from {target}" for n in names
                      if n.startswith("_") and there != here]
    assert not wrong, wrong


def private_names(tree: ast.Module) -> set[str]:
    """The underscore names a module defines: functions, classes, attributes it assigns."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_")}


def test_nothing_reaches_for_another_modules_private_names() -> None:
    """``x._name`` only for a name the module itself defines (and NamedTuple's ``_replace``, ``os._exit``…)."""
    found = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text())
        own = private_names(tree) | PUBLIC_UNDERSCORED
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and node.attr not in own):
                found.append(f"{module}:{node.lineno} .{node.attr}")
    assert not found, found


def test_every_module_says_what_it_implements() -> None:
    """Each module opens with a docstring; none is over ~500 lines."""
    for module, path in modules().items():
        text = path.read_text()
        assert ast.get_docstring(ast.parse(text)), f"{module} has no opening docstring"
        assert len(text.splitlines()) <= 500, f"{module} has {len(text.splitlines())} lines"
