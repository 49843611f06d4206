"""The scoring core never imports the genome extras; deeplift.scale imports
them only inside the functions that use them."""
import ast
from pathlib import Path

import deeplift

EXTRAS = {"dask", "distributed", "zarr", "pyBigWig", "pyfaidx", "dask_jobqueue"}


def _imports(tree, top_level_only):
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]


def test_core_never_imports_dask_or_zarr():
    package = Path(deeplift.__file__).parent
    checked = 0
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        in_scale = "scale" in path.relative_to(package).parts
        found = set(_imports(tree, top_level_only=in_scale)) & EXTRAS
        assert not found, f"{path} imports {found} {'at module level' if in_scale else ''}"
        checked += 1
    assert checked > 20
