"""The genomics example: its auROC helper and the notebook, executed fast."""
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_auroc_matches_pairwise_definition(rng):
    from examples.genomics.pipeline import auroc

    scores = np.round(rng.normal(size=300), 1)  # rounding creates ties
    labels = rng.random(300) < 0.3
    pos, neg = scores[labels], scores[~labels]
    pairwise = ((pos[:, None] > neg[None, :]).sum()
                + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert auroc(scores, labels) == pytest.approx(pairwise, abs=1e-12)


def test_genomics_notebook_runs_in_fast_mode(tmp_path):
    pytest.importorskip("nbclient")
    from examples.notebooks import run_fast

    text = run_fast(REPO / "examples" / "genomics" / "genomics_simulation.ipynb", tmp_path)
    assert "max |deeplift - keras|" in text
    # The example's max pools see a reference that varies inside the edge
    # windows (zero padding), so the sums are close but not exact there.
    relative_gap = float(text.split("relative to the largest logit difference: ")[1].split(")")[0])
    assert relative_gap < 1e-2
    # cross_max max pools conserve for any reference
    cross_gap = float(text.split("with cross_max max pools: largest gap ")[1].split("(relative: ")[1]
                      .split(")")[0])
    assert cross_gap < 1e-5
    assert "DeepLIFT GenomicsDefault, cross_max" in text and "DeepLIFT Rescale, cross_max" in text
    for name in ["genomics_cnn.h5", "logo_task0.png", "task0_ohe.npz", "task0_shap.npz"]:
        assert (tmp_path / name).stat().st_size > 0
    ohe = np.load(tmp_path / "task0_ohe.npz")["arr_0"]
    assert ohe.shape[1] == 4 and ohe.dtype == np.float32
