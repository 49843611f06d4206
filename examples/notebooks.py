"""Building and executing the example notebooks (nbformat/nbclient, the
``dev`` extra), shared by each ``make_notebook.py`` and the tests."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat


def notebook_from_cells(cells) -> nbformat.NotebookNode:
    """A Python 3 notebook, without outputs, from ``(kind, source)`` pairs
    with ``kind`` "markdown" or "code"."""
    notebook = nbformat.v4.new_notebook()
    makers = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    notebook.cells = [makers[kind](source) for kind, source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def execute(notebook: nbformat.NotebookNode, directory, timeout: int) -> None:
    """Runs every cell in place, with ``directory`` as the working folder
    (each notebook puts the repository root, two levels up, on its path)."""
    import nbclient

    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(directory)}}).execute()


def printed_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed cells printed, joined by newlines."""
    return "\n".join(output.get("text", "") for cell in notebook.cells
                     for output in cell.get("outputs", []))


def run_fast(path, out_dir, timeout: int = 600) -> str:
    """Executes the notebook file ``path`` in its fast mode
    (``DEEPLIFT_NOTEBOOK_FAST=1``), writing its files under ``out_dir``
    (``DEEPLIFT_NOTEBOOK_OUT``), and returns its printed text. The file on
    disk is not modified."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    settings = {"DEEPLIFT_NOTEBOOK_FAST": "1", "DEEPLIFT_NOTEBOOK_OUT": str(out_dir)}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # the kernel inherits this process's environment
    try:
        execute(notebook, path.parent, timeout)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return printed_text(notebook)
