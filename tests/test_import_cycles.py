"""The package has no import cycles between its modules.

Every ``import`` of a ``deeplift`` module counts, wherever it stands (module
level or inside a function), except those under ``if TYPE_CHECKING:``, which
never run. Importing ``deeplift.a.b`` from outside the package ``deeplift.a``
also runs ``deeplift/a/__init__.py``, so that edge counts too.
"""
import ast
import pathlib

import deeplift

PACKAGE_ROOT = pathlib.Path(deeplift.__file__).parent


def _module_files() -> dict[str, pathlib.Path]:
    modules = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST):
    """Import nodes of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for child in ast.iter_child_nodes(node):
            if not _is_type_checking_block(child):
                stack.append(child)


def import_graph() -> dict[str, set[str]]:
    """``{module: {deeplift modules it imports}}``."""
    modules = _module_files()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if not target or target == name:
                    continue
                edges[name].add(target)
                # Importing a submodule runs its parent packages' __init__ first.
                parent = target.rpartition(".")[0]
                while parent and parent != "deeplift":
                    if not (name == parent or name.startswith(parent + ".")):
                        edges[name].add(parent)
                    parent = parent.rpartition(".")[0]
    return edges


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_finder_sees_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(edges) == [["a", "b", "c"]]


def test_graph_has_the_known_edges():
    edges = import_graph()
    assert "deeplift.traversal" in edges["deeplift.layers.base"]
    # A module outside deeplift.layers importing deeplift.layers.base runs the package init.
    assert "deeplift.layers" in edges["deeplift.graph"]


def test_no_import_cycles():
    edges = import_graph()
    cycles = find_cycles(edges)
    details = [
        " <-> ".join(cycle) + ": " + "; ".join(
            f"{a} -> {b}" for a in cycle for b in sorted(edges[a]) if b in cycle)
        for cycle in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(details)
