"""On the local scheduler memory is bounded by the shard, not by the run."""
import tracemalloc

import numpy as np

from scale_helpers import CHROM_LENGTHS, WIDTH


def _bed(path, n, rng):
    starts = rng.integers(WIDTH, CHROM_LENGTHS["chr1"] - WIDTH, size=n)
    path.write_text("".join(f"chr1\t{s}\t{s + 2}\n" for s in starts))
    return path


def test_peak_memory_does_not_grow_with_the_number_of_windows(genome_dir, tmp_path,
                                                              monkeypatch):
    from deeplift.scale import score_regions
    from deeplift.scale.regions import Genome

    root, _ = genome_dir
    rng = np.random.default_rng(0)
    fetched = []
    real_one_hot = Genome.one_hot

    def recording_one_hot(self, chrom, start, width):
        fetched.append(len(start))
        return real_one_hot(self, chrom, start, width)

    monkeypatch.setattr(Genome, "one_hot", recording_one_hot)
    shard = 16

    def peak(n, name):
        bed = _bed(tmp_path / f"{name}.bed", n, rng)
        tracemalloc.start()
        try:
            score_regions(root / "model.h5", bed, root / "genome.fa", WIDTH,
                          tmp_path / f"{name}.zarr", [0], reference="zeros", shard_size=shard,
                          batch_size=16, progress=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(shard, "warmup")  # traces the scoring graph
    small, large = peak(80, "small"), peak(800, "large")
    # whole-run arrays for 800 windows: contribs + hypothetical (float32) + one-hot
    whole_run = 800 * WIDTH * 4 * (4 + 4 + 1)
    assert large - small < 0.15 * whole_run, (small, large, whole_run)
    # by construction: the genome is read one shard at a time
    assert max(fetched) == shard
