"""A synthetic genome, BED and VCF, and a tiny saved Keras model, all in tmp_path."""
import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("pyfaidx")

from scale_helpers import CHROM_LENGTHS, WIDTH


def _random_chromosome(rng, length):
    letters = np.array(list("ACGTacgtN"))
    # mostly upper-case bases, some lower-case (soft-masked) and a few N
    p = np.array([0.2, 0.2, 0.2, 0.2, 0.045, 0.045, 0.045, 0.045, 0.02])
    return "".join(rng.choice(letters, size=length, p=p / p.sum()))


@pytest.fixture(scope="session")
def genome_dir(tmp_path_factory):
    """genome.fa (60-column lines), regions.bed, model.h5: built once."""
    import keras

    root = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(7)
    chroms = {name: _random_chromosome(rng, n) for name, n in CHROM_LENGTHS.items()}
    with open(root / "genome.fa", "w") as fa:
        for name, seq in chroms.items():
            fa.write(f">{name} synthetic\n")
            fa.writelines(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    # 24 regions of varied lengths, some overlapping (for the bigWig average)
    lines = []
    for i in range(24):
        name = "chr1" if i % 3 else "chr2"
        length = int(rng.integers(1, 30))
        start = int(rng.integers(WIDTH, CHROM_LENGTHS[name] - WIDTH - length))
        lines.append(f"{name}\t{start}\t{start + length}\tpeak{i}\n")
    (root / "regions.bed").write_text("track name=peaks\n# a comment\n" + "".join(lines))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((WIDTH, 4)),
                              keras.layers.Conv1D(6, 5, padding="same", activation="relu"),
                              keras.layers.MaxPooling1D(2),
                              keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="sigmoid")])
    model.save(root / "model.h5")
    return root, chroms


@pytest.fixture(scope="session")
def dask_client():
    """The client `--scheduler dask-local:2` opens (a LocalCluster of 2
    worker processes), shared by every Dask test: starting workers and
    importing TensorFlow in them is the slow part."""
    pytest.importorskip("distributed")
    from deeplift.scale.executor import open_scheduler

    client, close = open_scheduler("dask-local:2")
    assert len(client.scheduler_info()["workers"]) == 2
    yield client
    close()
