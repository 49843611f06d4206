"""The up-front support check: one short error grouped by class, options
checked in the same pass, and ``deeplift convert --supported``."""
import keras
import pytest

from deeplift.cli import main
from deeplift.conversion import support
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.live_model import read_live_model


def _many_unsupported():
    x = keras.Input((6, 4))
    h = x
    for i in range(5):
        h = keras.layers.UnitNormalization(name=f"unit{i}")(h)
    h = keras.layers.Conv1D(4, 2, padding="causal", name="conv")(h)
    h = keras.layers.Dense(3, activation="log_softmax", name="dense_ls")(h)
    return keras.Model(x, h)


def test_error_groups_by_class_and_checks_options():
    spec = read_live_model(_many_unsupported())
    with pytest.raises(ConversionError) as info:
        support.check_supported(spec, {})
    lines = str(info.value).splitlines()
    assert "cannot convert 7 layer(s)" in lines[0]
    assert lines[1] == "  UnitNormalization x5 ('unit0', 'unit1', 'unit2', ...)"
    assert lines[2] == "  Conv1D with padding='causal' x1 ('conv')"
    assert lines[3] == "  Dense with activation 'log_softmax' x1 ('dense_ls')"
    assert "deeplift convert --supported" in lines[4]
    assert len(str(info.value)) < 600  # short: no list of every supported class


def test_cli_lists_supported_classes(capsys):
    assert main(["convert", "--supported"]) == 0
    out = capsys.readouterr().out
    for name in ("Dense", "Multiply", "LayerNormalization", "Maximum", "relu", "ops.Add",
                 "DepthwiseConv2D", "CustomScaleLayer"):
        assert name in out
    assert "UnitNormalization" not in out
