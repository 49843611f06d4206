"""The attention notebook of the genomics example, executed in fast mode."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_attention_notebook_runs_in_fast_mode(tmp_path):
    pytest.importorskip("nbclient")
    from examples.notebooks import run_fast

    text = run_fast(REPO / "examples" / "genomics" / "attention_model.ipynb", tmp_path)
    assert "max |deeplift - keras|" in text
    gap = float(text.split("largest relative summation-to-delta gap: ")[1].split()[0])
    assert gap < 1e-5  # exact through attention: no max-pool caveat with a uniform reference
    assert text.count("auROC ") == 3
    assert (tmp_path / "attention_model.keras").stat().st_size > 0
