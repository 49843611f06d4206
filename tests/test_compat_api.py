"""Old-API usage from the original ``deeplift`` 0.6 package must keep
working: enum/string equality, import paths, the low-level
set_scoring_mode / compile_func / set_active / update_task_index flow,
``run_function_in_batches``, ``connect_list_of_layers`` and the constructor
keywords listed in API_COMPAT.md."""
import numpy as np
import pytest

import deeplift
import deeplift.layers as L
import deeplift.util
from deeplift import modes
from deeplift.models import GraphModel, SequentialModel


# ---------------------------------------------------------------------------
# enums
# ---------------------------------------------------------------------------

def test_nonlinear_modes_compare_equal_to_their_names():
    for member in modes.NonlinearMxtsMode:
        assert member == member.name
        assert modes.NonlinearMxtsMode[member.name] is member
    assert modes.NonlinearMxtsMode.Rescale == "Rescale"
    assert modes.NonlinearMxtsMode.DeepLIFT_GenomicsDefault == "DeepLIFT_GenomicsDefault"
    assert {"Rescale": 1}[modes.NonlinearMxtsMode.Rescale] == 1  # hash like the string
    assert str(modes.NonlinearMxtsMode.RevealCancel) == "RevealCancel"


def test_other_enums_keep_the_old_string_values():
    assert modes.PaddingMode.same == "SAME" and modes.PaddingMode.valid == "VALID"
    assert modes.DataFormat.channels_first == "channels_first"
    assert modes.DataFormat.channels_last == "channels_last"
    assert modes.DenseMxtsMode.Linear == "Linear"
    assert modes.ConvMxtsMode.Linear == "Linear"
    assert modes.MaxPoolDeepLiftMode.gradient == "gradient"
    assert modes.ScoringMode.OneAndZeros == "OneAndZeros"


def test_enums_importable_from_old_paths():
    from deeplift.layers.core import (ConvMxtsMode, DataFormat, DenseMxtsMode,
                                      MaxPoolDeepLiftMode, NonlinearMxtsMode, PaddingMode,
                                      ScoringMode)
    assert NonlinearMxtsMode is modes.NonlinearMxtsMode
    assert DenseMxtsMode is modes.DenseMxtsMode and ConvMxtsMode is modes.ConvMxtsMode
    assert MaxPoolDeepLiftMode is modes.MaxPoolDeepLiftMode
    assert ScoringMode is modes.ScoringMode and PaddingMode is modes.PaddingMode
    assert DataFormat is modes.DataFormat
    assert L.NonlinearMxtsMode is modes.NonlinearMxtsMode
    assert deeplift.NonlinearMxtsMode is modes.NonlinearMxtsMode
    from deeplift.layers import convolutional, core, normalization, pooling  # noqa: F401
    assert hasattr(deeplift.util, "compile_func")
    assert hasattr(deeplift.util, "run_function_in_batches")
    assert hasattr(deeplift.util, "connect_list_of_layers")
    assert isinstance(deeplift.__version__, str)


def test_strings_accepted_wherever_enums_are():
    relu = L.ReLU(nonlinear_mxts_mode="DeepLIFT_GenomicsDefault")
    assert relu.nonlinear_mxts_mode is modes.NonlinearMxtsMode.DeepLIFT_GenomicsDefault
    conv = L.Conv1D(kernel=np.ones((2, 1, 1)), bias=[0.0], stride=1, padding="same")
    assert conv.padding is modes.PaddingMode.same
    pool = L.MaxPool2D(pool_size=(2, 2), strides=(1, 1), padding="valid",
                       data_format="channels_first", maxpool_deeplift_mode="gradient")
    assert pool.data_format is modes.DataFormat.channels_first


# ---------------------------------------------------------------------------
# constructors with the original keywords
# ---------------------------------------------------------------------------

def test_constructor_keywords_of_the_original_and_their_effect():
    W = np.ones((2, 2, 3))
    inp = L.Input(batch_shape=(None, 7, 2), name="inp", verbose=False)
    conv = L.Conv1D(kernel=W, bias=np.zeros(3), stride=2, padding=modes.PaddingMode.valid,
                    conv_mxts_mode=modes.ConvMxtsMode.Linear, name="conv", verbose=False)(inp)
    mp = L.MaxPool1D(pool_length=2, stride=1, padding=modes.PaddingMode.same,
                     maxpool_deeplift_mode=modes.MaxPoolDeepLiftMode.gradient, name="mp")(conv)
    ap = L.AvgPool1D(pool_length=2, stride=2, padding=modes.PaddingMode.valid, name="ap")(mp)
    bn = L.BatchNormalization(gamma=np.ones(3), beta=np.zeros(3), axis=-1, mean=np.zeros(3),
                              var=np.ones(3), epsilon=1e-3, name="bn")(ap)
    pr = L.PReLU(alpha=np.full((1, 3), 0.3), nonlinear_mxts_mode="Rescale", name="prelu")(bn)
    gmp = L.GlobalMaxPool1D(maxpool_deeplift_mode=modes.MaxPoolDeepLiftMode.gradient,
                            name="gmp")(pr)
    gap = L.GlobalAvgPool1D(name="gap")(pr)
    cat = L.Concat(axis=-1, name="cat")([gmp, gap])
    d = L.Dense(kernel=np.ones((6, 2)), bias=np.zeros(2),
                dense_mxts_mode=modes.DenseMxtsMode.Linear, name="dense")(cat)
    acts = [cls(nonlinear_mxts_mode=modes.NonlinearMxtsMode.Rescale, name=f"a{i}", verbose=True)
            for i, cls in enumerate((L.ReLU, L.Sigmoid, L.Tanh, L.Softmax))]
    # steps: 7 -conv k2 s2 valid-> 3 -mp same s1-> 3 -ap 2 s2 valid-> 1
    assert conv.get_shape() == (None, 3, 3)
    assert mp.get_shape() == (None, 3, 3)
    assert ap.get_shape() == (None, 1, 3)
    assert cat.get_shape() == (None, 6) and d.get_shape() == (None, 2)
    assert [a.get_name() for a in acts] == ["a0", "a1", "a2", "a3"]
    assert conv.get_name() == "conv" and inp.get_name() == "inp"
    assert d.get_inputs() is cat and cat.get_inputs() == [gmp, gap]
    assert inp.get_batch_shape() == (None, 7, 2)
    assert conv in inp.get_output_layers()


def test_conv2d_and_pool2d_keywords_with_channels_first():
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(1, 2, 4, 4)  # (N, C, H, W)
    kernel = np.zeros((2, 2, 2, 1))
    kernel[0, 0, 1, 0] = 1.0  # picks channel 1 at the window's top-left
    model = SequentialModel([
        L.Input(batch_shape=(None, 2, 4, 4)),
        L.Conv2D(kernel=kernel, bias=[0.5], strides=(2, 2), padding=modes.PaddingMode.valid,
                 data_format=modes.DataFormat.channels_first,
                 conv_mxts_mode=modes.ConvMxtsMode.Linear),
        L.AvgPool2D(pool_size=(2, 1), strides=(1, 1), padding="valid",
                    data_format="channels_first"),
        L.Flatten(data_format="channels_first"),
    ])
    out = model.get_prediction_function(input_layer_idx=0, output_layer_idx=-1)([x], 10)
    # conv picks x[1, 0, 0], x[1, 0, 2], x[1, 2, 0], x[1, 2, 2] = 16, 18, 24, 26 (+0.5);
    # avg over rows -> (20.5, 22.5)
    np.testing.assert_allclose(out, [[20.5, 22.5]])


def test_positional_arguments_in_the_original_order():
    inp = L.Input((None, 6, 1))
    conv = L.Conv1D(np.ones((3, 1, 1)), np.zeros(1), 3, "valid")(inp)   # kernel, bias, stride, padding
    pool = L.MaxPool1D(2, 1, "same")(conv)                               # pool_length, stride, padding
    dense = L.Dense(np.ones((2, 1)), np.zeros(1), "Linear")(L.Flatten()(pool))
    assert conv.get_shape() == (None, 2, 1)
    assert pool.get_shape() == (None, 2, 1)
    assert dense.get_shape() == (None, 1)


# ---------------------------------------------------------------------------
# the low-level flow
# ---------------------------------------------------------------------------

def _two_task_net():
    """Input(2) -> Dense(W, b) -> ReLU -> Dense(V) with 2 targets; hand values:
    W = [[1, -1], [2, 1]], b = (0, 1), V = [[1, 2], [-1, 3]], x = (1, 1), x0 = 0
    h = (3, 1), h0 = (0, 1) -> ReLU dh = (3, 0) with fallback slope 1 at h0 = 1
    (dh = 0): s = (1, 1). Task 0: m_relu = V[:, 0] = (1, -1) -> input
    m = W (1, -1) = (2, 1); task 1: (2, 3) -> W (2, 3) = (-1, 7)."""
    layers = [L.Input(batch_shape=(None, 2)), L.Dense(kernel=[[1.0, -1.0], [2.0, 1.0]], bias=[0.0, 1.0]),
              L.ReLU(nonlinear_mxts_mode=modes.NonlinearMxtsMode.Rescale),
              L.Dense(kernel=[[1.0, 2.0], [-1.0, 3.0]], bias=[0.0, 0.0])]
    deeplift.util.connect_list_of_layers(layers)
    layers[-1].build_fwd_pass_vars()
    return layers


def test_low_level_compile_func_flow_task_switch_and_inactive():
    layers = _two_task_net()
    inp, target = layers[0], layers[-1]
    target.set_scoring_mode(modes.ScoringMode.OneAndZeros)
    inputs = [inp.get_activation_vars(), inp.get_reference_vars()]
    mxts_fn = deeplift.util.compile_func(inputs, inp.get_mxts())
    contribs_fn = deeplift.util.compile_func(inputs, inp.get_target_contrib_vars())
    both_fn = deeplift.util.compile_func(inputs, [inp.get_pos_mxts(), inp.get_neg_mxts(),
                                                  target.get_activation_vars()])
    x, ref = np.array([[1.0, 1.0]]), np.zeros((1, 2))
    target.set_active()
    target.update_task_index(0)
    np.testing.assert_allclose(mxts_fn([x, ref]), [[2.0, 1.0]])
    np.testing.assert_allclose(contribs_fn([x, ref]), [[2.0, 1.0]])
    # the task index changed after compiling is honoured
    target.update_task_index(1)
    np.testing.assert_allclose(mxts_fn([x, ref]), [[-1.0, 7.0]])
    pos, neg, out = both_fn([x, ref])
    np.testing.assert_allclose(pos, [[-1.0, 7.0]])
    np.testing.assert_allclose(neg, [[-1.0, 7.0]])
    np.testing.assert_allclose(out, [[3 * 1 + 1 * -1, 3 * 2 + 1 * 3]])
    # inactive target: zero multipliers
    target.set_inactive()
    np.testing.assert_array_equal(mxts_fn([x, ref]), [[0.0, 0.0]])
    np.testing.assert_array_equal(contribs_fn([x, ref]), [[0.0, 0.0]])
    target.set_active()
    np.testing.assert_allclose(mxts_fn([x, ref]), [[-1.0, 7.0]])
    # compatibility no-ops exist
    target.reset_mxts_updated()
    target.update_mxts()


def test_low_level_errors():
    layers = _two_task_net()
    inp, target = layers[0], layers[-1]
    with pytest.raises(RuntimeError) as err:
        target.update_task_index(0)
    assert "set_scoring_mode" in str(err.value)
    # (An activation layer may be a low-level target, as in the original:
    # see test_activation_layer_as_low_level_target.)
    target.set_scoring_mode("OneAndZeros")
    fn = deeplift.util.compile_func([inp.get_activation_vars(), inp.get_reference_vars()],
                                    inp.get_mxts())
    target.set_active()
    target.update_task_index(5)
    with pytest.raises(ValueError) as err:
        fn([np.ones((1, 2)), np.zeros((1, 2))])
    msg = str(err.value)
    assert "task" in msg and "5" in msg and "0 to 1" in msg
    target.update_task_index(0)
    with pytest.raises(ValueError) as err:
        fn([np.ones((1, 2))])
    msg = str(err.value)
    assert "input" in msg and "2" in msg and "1" in msg
    with pytest.raises(ValueError) as err:
        fn([np.array([[np.nan, 1.0]]), np.zeros((1, 2))])
    assert "NaN" in str(err.value) and inp.name in str(err.value)
    with pytest.raises(ValueError) as err:
        deeplift.util.compile_func([inp.get_activation_vars()], inp.get_mxts())
    assert "reference" in str(err.value)
    with pytest.raises(ValueError):
        deeplift.util.compile_func([layers[1].get_activation_vars()], layers[2].get_activation_vars())


def test_forward_only_compile_func_needs_no_reference():
    layers = _two_task_net()
    fn = deeplift.util.compile_func([layers[0].get_activation_vars()], layers[2].get_activation_vars())
    np.testing.assert_allclose(fn([np.array([[1.0, 1.0], [0.0, -2.0]])]), [[3.0, 1.0], [0.0, 0.0]])


def test_run_function_in_batches():
    calls = []

    def func(arrays):
        calls.append(len(arrays[0]))
        return arrays[0] * 2 + arrays[1]

    x, y = np.arange(10.0).reshape(5, 2), np.ones((5, 2))
    out = deeplift.util.run_function_in_batches(func=func, input_data_list=[x, y], batch_size=2,
                                                progress_update=None)
    np.testing.assert_allclose(out, x * 2 + 1)
    assert calls == [2, 2, 1]
    multi = deeplift.util.run_function_in_batches(lambda a: [a[0], -a[0]], [x], batch_size=3,
                                                  progress_update=None, multimodal_output=True)
    np.testing.assert_allclose(multi[0], x)
    np.testing.assert_allclose(multi[1], -x)


def test_run_function_in_batches_with_a_compiled_function():
    # the original README pattern: compile_func + run_function_in_batches
    layers = _two_task_net()
    inp, target = layers[0], layers[-1]
    target.set_scoring_mode("OneAndZeros")
    fn = deeplift.util.compile_func([inp.get_activation_vars(), inp.get_reference_vars()],
                                    inp.get_target_contrib_vars())
    target.set_active()
    target.update_task_index(1)
    x = np.array([[1.0, 1.0]] * 5)
    out = deeplift.util.run_function_in_batches(fn, [x, np.zeros_like(x)], batch_size=2,
                                                progress_update=None)
    np.testing.assert_allclose(out, [[-1.0, 7.0]] * 5)


def test_graph_model_old_method_names_and_keywords():
    a = L.Input(batch_shape=(None, 2), name="a")
    d = L.Dense(kernel=[[1.0], [2.0]], bias=[0.0], name="d")(a)
    s = L.Sigmoid(name="s")(d)
    model = GraphModel({"a": a, "d": d, "s": s}, input_layer_names=["a"])
    assert model.get_name_to_layer()["d"] is d and model.get_input_layer_names() == ["a"]
    func = model.get_target_contribs_func(find_scores_layer_name="a",
                                          pre_activation_target_layer_name="d")
    np.testing.assert_allclose(func(task_idx=0, input_data_list=[np.ones((1, 2))], batch_size=1,
                                    progress_update=None, input_references_list=[np.zeros((1, 2))]),
                               [[1.0, 2.0]])
    predict = model.get_prediction_function(input_layer_names=["a"], output_layer_name="s")
    np.testing.assert_allclose(predict([np.zeros((1, 2))], 10), [[0.5]])
    with pytest.raises(ValueError):
        GraphModel({"a": a, "d": d}, input_layer_names=["d"])


# ---------------------------------------------------------------------------
# issue 10: names and conveniences of 0.6.13
# ---------------------------------------------------------------------------

MODE_ENUMS = [modes.NonlinearMxtsMode, modes.DenseMxtsMode, modes.ConvMxtsMode,
              modes.MaxPoolDeepLiftMode, modes.ScoringMode, modes.PaddingMode,
              modes.DataFormat, modes.PoolMode, modes.ActivationNames]


@pytest.mark.parametrize("enum", MODE_ENUMS, ids=lambda e: e.__name__)
def test_every_mode_enum_has_vals(enum):
    """``vals`` lists every value (the original's util.enum attribute), and
    each entry compares equal to its plain string."""
    assert enum.vals == [member.value for member in enum]
    assert all(isinstance(v, str) and v == member.value for v, member in zip(enum.vals, enum))
    assert "vals" not in enum.__members__


def test_vals_hold_the_original_strings():
    assert set(L.NonlinearMxtsMode.vals) == {
        "Gradient", "Rescale", "DeconvNet", "GuidedBackprop", "GuidedBackpropRescale",
        "RevealCancel", "PassThrough", "DeepLIFT_GenomicsDefault"}
    assert L.PaddingMode.vals == ["SAME", "VALID"]
    from deeplift.layers.convolutional import PaddingMode, PoolMode
    assert PoolMode.vals == ["max", "avg"] and PoolMode.max == "max" and PoolMode.avg == "avg"
    assert PaddingMode is L.PaddingMode


# Public names of the original 0.6 modules (read off its source) that old
# scripts import; each must exist here.
ORIGINAL_NAMES = {
    "deeplift.layers": ["Input", "Dense", "Flatten", "NoOp", "Concat", "Conv1D", "Conv2D",
                        "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D",
                        "BatchNormalization", "Activation", "ReLU", "PReLU", "Sigmoid",
                        "Softmax", "ScoringMode", "NonlinearMxtsMode", "DenseMxtsMode",
                        "ConvMxtsMode", "MaxPoolDeepLiftMode", "PaddingMode", "PoolMode",
                        "DataFormat", "ActivationNames", "Blob", "Node", "Conv"],
    "deeplift.layers.core": ["ScoringMode", "NonlinearMxtsMode", "DenseMxtsMode",
                             "ConvMxtsMode", "ActivationNames", "MaxPoolDeepLiftMode", "Blob",
                             "Node", "Input", "NoOp", "Dense", "Concat", "Flatten"],
    "deeplift.layers.convolutional": ["PoolMode", "PaddingMode", "DataFormat", "Conv",
                                      "Conv1D", "Conv2D"],
    "deeplift.layers.pooling": ["MaxPool1D", "AvgPool1D", "MaxPool2D", "AvgPool2D"],
    "deeplift.layers.activations": ["Activation", "PReLU", "ReLU", "Sigmoid", "Softmax"],
    "deeplift.layers.normalization": ["BatchNormalization"],
    "deeplift.util": ["NEAR_ZERO_THRESHOLD", "compile_func", "enum", "is_type",
                      "assert_is_type", "assert_is_not_type", "run_function_in_batches",
                      "connect_list_of_layers", "get_integrated_gradients_function",
                      "get_hypothetical_contribs_func_onehot", "get_shuffle_seq_ref_function",
                      "mean_normalise_weights_for_sequence_convolution"],
    "deeplift.models": ["Model", "SequentialModel", "GraphModel"],
    "deeplift.conversion.kerasapi_conversion": [
        "convert_model_from_saved_files", "convert_sequential_model",
        "convert_functional_model", "layer_name_to_conversion_function", "ActivationTypes",
        "default_maxpool_deeplift_mode", "activation_conversion", "relu_conversion",
        "prelu_conversion", "softmax_conversion", "dense_conversion", "conv1d_conversion",
        "conv2d_conversion", "maxpool1d_conversion", "maxpool2d_conversion",
        "avgpool1d_conversion", "avgpool2d_conversion", "batchnorm_conversion",
        "flatten_conversion", "dropout_conversion"],
    "deeplift.dinuc_shuffle": ["dinuc_shuffle", "string_to_char_array", "char_array_to_string",
                               "one_hot_to_tokens", "tokens_to_one_hot"],
    "deeplift.visualization.viz_sequence": ["plot_a", "plot_c", "plot_g", "plot_t",
                                            "plot_weights_given_ax", "plot_weights",
                                            "default_colors", "default_plot_funcs"],
}


@pytest.mark.parametrize("module", sorted(ORIGINAL_NAMES))
def test_original_public_names_exist(module):
    import importlib

    imported = importlib.import_module(module)
    missing = [name for name in ORIGINAL_NAMES[module] if not hasattr(imported, name)]
    assert missing == []


def test_original_helper_names_behave():
    from deeplift import dinuc_shuffle as ds
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.visualization import viz_sequence

    codes = ds.string_to_char_array("ACGT")
    assert codes.tolist() == [65, 67, 71, 84] and ds.char_array_to_string(codes) == "ACGT"
    one_hot = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]], np.float32)
    assert ds.one_hot_to_tokens(one_hot).tolist() == [1, 3, 0]
    np.testing.assert_array_equal(ds.tokens_to_one_hot(np.array([1, 3, 0]), 3), one_hot)
    colors = deeplift.util.enum(red="r", blue="b")
    assert colors.red == "r" and colors.vals == ["r", "b"] and colors.the_dict == {"red": "r", "blue": "b"}
    assert deeplift.util.NEAR_ZERO_THRESHOLD == 1e-7
    assert deeplift.util.is_type(L.ReLU(), L.Activation) and not deeplift.util.is_type(L.ReLU(), L.Dense)
    assert isinstance(L.Dense(kernel=[[1.0]], bias=[0.0]), L.Blob)
    assert isinstance(L.Conv1D(kernel=np.ones((2, 1, 1)), bias=[0.0]), L.Conv)
    assert kc.layer_name_to_conversion_function("dense") is kc.dense_conversion
    assert kc.default_maxpool_deeplift_mode == "gradient" and "relu" in kc.ActivationTypes.vals
    with pytest.raises(ValueError, match="'Frobnicate'"):
        kc.layer_name_to_conversion_function("Frobnicate")
    assert viz_sequence.default_colors[0] == "green" and viz_sequence.default_plot_funcs[3] is viz_sequence.plot_t


def test_compile_func_one_input_accepts_a_bare_array_or_list_of_examples():
    """Forward pass of _two_task_net on x = (1, 1) and (0, -2): by hand,
    Dense h = x W + b = (3, 1), (-4, -1); ReLU: (3, 1), (0, 0); Dense V:
    (3 - 1, 6 + 3) = (2, 9), (0, 0)."""
    layers = _two_task_net()
    expected = [[2.0, 9.0], [0.0, 0.0]]
    fn = deeplift.util.compile_func(layers[0].get_activation_vars(), layers[-1].get_activation_vars())
    x = np.array([[1.0, 1.0], [0.0, -2.0]])
    np.testing.assert_allclose(fn(x), expected)                        # bare array
    np.testing.assert_allclose(fn([[1.0, 1.0], [0.0, -2.0]]), expected)  # list of examples
    np.testing.assert_allclose(fn([np.array([1.0, 1.0]), np.array([0.0, -2.0])]), expected)
    np.testing.assert_allclose(fn([x]), expected)                      # one-element list
    np.testing.assert_allclose(fn([[1.0, 1.0]]), expected[:1])          # one example


def test_activation_layer_as_low_level_target():
    """set_scoring_mode/set_active/update_task_index on a ReLU, as 0.6 tests
    did. Input(4) -> Dense(W = (w, -w), b = (-1, 1)), w = (1, 2, 3, 4) ->
    ReLU(Rescale) target; x = (1,1,1,1) and (2,2,2,2), x0 = 0.
    By hand: h = (9, -9), (19, -19), h0 = (-1, 1); y = (9, 0), (19, 0),
    y0 = (0, 1): rescale factors 9/10, -1/-10 and 19/20, -1/-20, so the
    input multipliers are 0.9 w, 0.95 w (task 0) and 0.1 (-w), 0.05 (-w)."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    inp = L.Input(batch_shape=(None, 4))
    dense = L.Dense(kernel=np.stack([w, -w], axis=1), bias=[-1.0, 1.0])(inp)
    relu = L.ReLU(nonlinear_mxts_mode=modes.NonlinearMxtsMode.Rescale)(dense)
    relu.build_fwd_pass_vars()
    relu.set_scoring_mode(L.ScoringMode.OneAndZeros)
    relu.set_active()
    fn = deeplift.util.compile_func([inp.get_activation_vars(), inp.get_reference_vars()],
                                    inp.get_mxts())
    x = np.array([[1.0] * 4, [2.0] * 4])
    relu.update_task_index(0)
    np.testing.assert_allclose(fn([x, np.zeros_like(x)]), [0.9 * w, 0.95 * w], rtol=1e-6)
    relu.update_task_index(1)
    np.testing.assert_allclose(fn([x, np.zeros_like(x)]), [0.1 * -w, 0.05 * -w], rtol=1e-6)
    relu.set_inactive()
    np.testing.assert_array_equal(fn([x, np.zeros_like(x)]), 0.0)
    # The model-level functions keep refusing an activation target.
    model = SequentialModel([inp, dense, relu])
    with pytest.raises(ValueError, match="activation layer"):
        model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)


def test_get_pos_and_neg_contribs_compile():
    """_two_task_net, x = (1, -1), x0 = 0: dx+ = (1, 0), dx- = (0, -1).
    Dense W = [[1, -1], [2, 1]] by hand: unit 0 (w = (1, 2)): pos = 1*1 = 1,
    neg = 2*(-1) = -2; unit 1 (w = (-1, 1)): pos = 0, neg = -1*1 + 1*(-1)
    = -2. ReLU (Rescale): h = x W + b = (-1, -1), h0 = b = (0, 1),
    y - y0 = (0, -1), s = (0/-1, -1/-2) = (0, 1/2): parts (1, -2) * 0 and
    (0, -2) / 2."""
    layers = _two_task_net()
    inp, dense, relu = layers[:3]
    outputs = [*inp.get_pos_and_neg_contribs(), *dense.get_pos_and_neg_contribs(),
               *relu.get_pos_and_neg_contribs()]
    fn = deeplift.util.compile_func([inp.get_activation_vars(), inp.get_reference_vars()], outputs)
    got = fn([np.array([[1.0, -1.0]]), np.zeros((1, 2))])
    expected = [[[1, 0]], [[0, -1]], [[1, 0]], [[-2, -2]], [[0, 0]], [[0, -1]]]
    for value, want in zip(got, expected):
        np.testing.assert_allclose(value, want, atol=1e-6)
    assert len(inp.get_pos_and_neg_contribs()) == 2


def test_genomics_default_reports_the_resolved_rule():
    gd = modes.NonlinearMxtsMode.DeepLIFT_GenomicsDefault
    inp = L.Input(batch_shape=(None, 4))
    dense = L.Dense(kernel=np.ones((4, 2)), bias=[0.0, 0.0])(inp)
    relu = L.ReLU(nonlinear_mxts_mode=gd)(L.NoOp()(dense))
    assert relu.nonlinear_mxts_mode == gd
    relu.build_fwd_pass_vars()
    assert relu.nonlinear_mxts_mode == modes.NonlinearMxtsMode.RevealCancel
    assert relu.requested_nonlinear_mxts_mode == gd

    seq = L.Input(batch_shape=(None, 5, 4))
    conv = L.Conv1D(kernel=np.ones((2, 4, 3)), bias=np.zeros(3))(seq)
    bn = L.BatchNormalization(gamma=np.ones(3), beta=np.zeros(3), axis=-1, mean=np.zeros(3),
                              var=np.ones(3), epsilon=1e-3)(conv)
    conv_relu = L.ReLU(nonlinear_mxts_mode=gd)(bn)
    conv_relu.build_fwd_pass_vars()
    assert conv_relu.nonlinear_mxts_mode == modes.NonlinearMxtsMode.Rescale

    lone = L.ReLU(nonlinear_mxts_mode=gd)(L.Input(batch_shape=(None, 4)))
    for kind in (RuntimeError, ValueError):
        with pytest.raises(kind, match="DeepLIFT_GenomicsDefault"):
            lone.build_fwd_pass_vars()
    from deeplift.rules import ModeResolutionError
    assert issubclass(ModeResolutionError, RuntimeError) and issubclass(ModeResolutionError, ValueError)
