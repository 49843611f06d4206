"""Cut-down keras.applications models, built with each family's own builder
and blocks, for the families whose smallest stock model is too slow to trace
in the test suite (ResNet50, DenseNet121, NASNetMobile, InceptionResNetV2:
177, 429, 771 and 782 Keras layers).

Every model keeps the family's layer types and wiring (so the converter sees
what it sees in the stock model) with one block per stage (NASNet: one
cell of each kind per stage) and few filters.
``SMALL_FAMILIES`` maps a name to ``(builder(input_shape), input_shape)``,
as ``check_applications.FAMILIES`` does.
"""
from __future__ import annotations

import keras
from keras import layers
from keras.src.applications import densenet, inception_resnet_v2, nasnet, resnet

COMMON = dict(weights=None, classes=3, classifier_activation=None)


def densenet_mini(shape):
    """DenseNet121's stem, four dense blocks of one conv block each (BN,
    ReLU, 1x1 and 3x3 convolutions, Concatenate) and the three transitions
    (average pools)."""
    return densenet.DenseNet([1, 1, 1, 1], input_shape=shape, name="densenet_mini", **COMMON)


def resnet_mini(shape):
    """ResNet50's layout (post-activation v1 bottleneck blocks with a
    convolution shortcut, biased convolutions, stem max pool), one block per
    stage, filters 16-128 instead of 64-512."""

    def stack_fn(x):
        x = resnet.stack_residual_blocks_v1(x, 16, 1, stride1=1, name="conv2")
        x = resnet.stack_residual_blocks_v1(x, 32, 1, name="conv3")
        x = resnet.stack_residual_blocks_v1(x, 64, 1, name="conv4")
        return resnet.stack_residual_blocks_v1(x, 128, 1, name="conv5")

    return resnet.ResNet(stack_fn, False, True, input_shape=shape, name="resnet_mini", **COMMON)


def nasnet_mini(shape):
    """NASNet-A from the module's own cells, one of each kind per stage that
    NASNetMobile has seven of (the builder's minimum, ``num_blocks=1``, has
    363 layers and took ~20 s here): stem convolution, a reduction cell, a
    normal cell (whose previous-cell input has twice its size: the
    ``_adjust_block`` path with average pools, ZeroPadding2D + Cropping2D and
    Concatenate), a second reduction and a second normal cell, then ReLU,
    global average pool and Dense, as ``NASNet``. Filters 4-16 (NASNetMobile:
    11-176)."""
    inputs = keras.Input(shape)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", use_bias=False,
                      name="stem_conv1")(inputs)
    x = layers.BatchNormalization(momentum=0.9997, epsilon=1e-3, name="stem_bn1")(x)
    x, p = nasnet._reduction_a_cell(x, None, 4, block_id="stem_1")
    x, p = nasnet._normal_a_cell(x, p, 8, block_id="0")
    x, p = nasnet._reduction_a_cell(x, p, 16, block_id="reduce_1")
    x, p = nasnet._normal_a_cell(x, p, 16, block_id="2")
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(COMMON["classes"], name="predictions")(x)
    return keras.Model(inputs, outputs, name="nasnet_mini")


def inception_resnet_mini(shape):
    """InceptionResNetV2's blocks, one of each: a mixed-5b-like stem
    (average pool branch, Concatenate), block35 (scale 0.17), a reduction
    (strided convolution and max pool), block17 (0.1), a reduction, block8
    (0.2) and the final linear block8 (scale 1, no activation), each merging
    its residual with ``CustomScaleLayer``; then conv_7b, global average pool
    and a Dense head. Stem and reductions use fewer filters than the stock
    model; the Inception-ResNet blocks are the stock ones."""
    conv2d_bn, block = inception_resnet_v2.conv2d_bn, inception_resnet_v2.inception_resnet_block
    inputs = keras.Input(shape)
    x = conv2d_bn(inputs, 16, 3, strides=2, padding="valid")
    pool = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    x = layers.Concatenate(name="mixed_5b")([conv2d_bn(x, 16, 1), conv2d_bn(pool, 16, 1)])
    x = block(x, scale=0.17, block_type="block35", block_idx=1)
    for reduction, block_type, scale in (("mixed_6a", "block17", 0.1),
                                         ("mixed_7a", "block8", 0.2)):
        x = layers.Concatenate(name=reduction)([
            conv2d_bn(x, 32, 3, strides=2, padding="valid"),
            layers.MaxPooling2D(3, strides=2, padding="valid")(x)])
        x = block(x, scale=scale, block_type=block_type, block_idx=1)
    x = block(x, scale=1.0, activation=None, block_type="block8", block_idx=2)
    x = conv2d_bn(x, 64, 1, name="conv_7b")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(COMMON["classes"], name="predictions")(x)
    return keras.Model(inputs, outputs, name="inception_resnet_mini")


SMALL_FAMILIES = {
    "DenseNetMini": (densenet_mini, (32, 32, 3)),
    "ResNetMini": (resnet_mini, (32, 32, 3)),
    "NASNetMini": (nasnet_mini, (32, 32, 3)),
    "InceptionResNetMini": (inception_resnet_mini, (32, 32, 3)),
}
