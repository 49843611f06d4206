"""Shared pytest configuration of the test suite.

* makes ``tests/helpers.py`` importable as ``from helpers import ...`` (there
  are no ``__init__.py`` files under ``tests/``);
* quietens TensorFlow's C++ logging before TensorFlow is first imported;
* registers the ``gpu`` marker: such tests are skipped when TensorFlow sees
  no GPU, so the CPU-only CI still runs everything else.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a GPU; skipped when none is visible")


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    skip = pytest.mark.skip(reason="no GPU visible to TensorFlow")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture
def rng():
    """A freshly seeded numpy generator per test (reproducible numbers)."""
    return np.random.default_rng(1234)
