"""Genome-scale scoring: BED regions or VCF variants of a genome FASTA,
scored shard by shard into a Zarr store, in this process or on a Dask
cluster, resumable after a crash; exports to bigWig, modisco-lite and HDF5.

Needs the ``genome`` extra (pyfaidx, zarr, dask[distributed], pyBigWig);
zarr, Dask and pyBigWig are imported only when used, and the scoring core
(``deeplift.models`` etc.) never imports them.
"""
from deeplift.scale.api import ScaleResult, score_regions, score_variants
from deeplift.scale.export import export_bigwig, export_hdf5, export_modisco
from deeplift.scale.regions import Genome, centred_windows, read_bed
from deeplift.scale.store import open_store
from deeplift.scale.variants import Variants, read_vcf

__all__ = ["score_regions", "score_variants", "ScaleResult", "read_bed", "read_vcf",
           "centred_windows", "Genome", "Variants", "open_store", "export_bigwig",
           "export_modisco", "export_hdf5"]
