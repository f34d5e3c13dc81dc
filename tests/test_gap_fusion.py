"""``proposed-gap``, the paper's Table 6 read literally: its parts have Table 6's parameter counts.

Table 6 (binary classification, 224 px) lists, in order: DenseNet-201 18,321,984; NASNetMobile
4,269,716; "ResNet 101" (7x7x512) 14,714,688; three poolings 0; MSFF 15,986; CPP 11,952; dropout 0;
batch_normalization 11,952; dense 446,592; dropout_1 0; batch_normalization_1 512; dense_1 (2 units)
258; total 37,793,640. The rows, output layer included, add up to the total exactly.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from bclib.models import BackbonePreprocess, build_model, gap_trunk, trunk_and_top  # noqa: E402

TABLE6 = {"densenet201": 18_321_984, "nasnetmobile": 4_269_716, "resnet 101": 14_714_688, "pooling": 0,
          "msff": 15_986, "cpp": 11_952, "dropout": 0, "batch_normalization": 11_952, "dense": 446_592,
          "dropout_1": 0, "batch_normalization_1": 512, "dense_1": 258}
TABLE6_TOTAL = 37_793_640
SIZE = 224


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model("proposed-gap", 2, SIZE, "none")


def _params(layer) -> int:
    return int(sum(np.prod(w.shape) for w in layer.weights))


def test_table6_rows_add_up_to_its_total_output_layer_included():
    assert sum(TABLE6.values()) == TABLE6_TOTAL
    assert TABLE6["dense_1"] == 128 * 2 + 2  # the 2-unit output layer is one of the rows summed
    assert TABLE6["dense"] == 3_488 * 128 + 128  # the dense layer reads 1,920 + 1,056 + 512 features


def test_backbones_and_dense_have_table6_parameter_counts(model):
    trunk, top = trunk_and_top(model)
    assert _params(trunk.get_layer("densenet201")) == TABLE6["densenet201"]
    assert _params(trunk.get_layer("nasnetmobile")) == TABLE6["nasnetmobile"]
    assert _params(trunk.get_layer("vgg16")) == TABLE6["resnet 101"]  # Table 6's "ResNet 101" row is VGG-16
    assert tuple(trunk.get_layer("vgg16").output.shape[1:]) == (7, 7, 512)
    assert _params(top.get_layer("head_dense")) == TABLE6["dense"]
    assert _params(top.get_layer("head_bn2")) == TABLE6["batch_normalization_1"]
    assert _params(top.get_layer("probabilities")) == TABLE6["dense_1"]


def test_total_is_table6_without_its_msff_and_cpp_rows(model):
    """The GAP reading has no MSFF or CPP layer, and its first BN normalises 3,488 features
    (4 x 3,488 = 13,952 parameters, where Table 6 prints 11,952 for a 2,956-wide input)."""
    _, top = trunk_and_top(model)
    assert _params(top.get_layer("head_bn1")) == 4 * 3_488
    literal = TABLE6_TOTAL - TABLE6["msff"] - TABLE6["cpp"] - TABLE6["batch_normalization"] + 4 * 3_488
    assert model.count_params() == literal == 37_767_702


def test_pooled_concatenation_is_3488_wide(model):
    trunk, _ = trunk_and_top(model)
    assert tuple(trunk.output.shape) == (None, 1_920 + 1_056 + 512) == (None, 3_488)


def test_resnet101_as_the_third_backbone():
    trunk = gap_trunk(32, "none", third="resnet101")
    assert tuple(trunk.output.shape) == (None, 1_920 + 1_056 + 2_048)
    assert trunk.get_layer("resnet101") is not None and not trunk.trainable


def test_predicts_probabilities_and_trains_only_the_head(model):
    trunk, top = trunk_and_top(model)
    images = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    probabilities = np.asarray(model(images))
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert trunk.trainable_weights == []
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in top.trainable_weights}
    preprocessing = sorted(layer.mode for layer in trunk.layers if isinstance(layer, BackbonePreprocess))
    assert preprocessing == ["caffe", "tf", "torch"]  # VGG-16, NASNetMobile, DenseNet-201: each its own


def test_refuses_bad_requests():
    from bclib.errors import UserError

    with pytest.raises(UserError, match="multiple of 32"):
        gap_trunk(80, "none")
    with pytest.raises(UserError, match="third backbone"):
        gap_trunk(64, "none", third="alexnet")


# Saving and loading as .keras passed once by hand (19 s here for 151 MB) and is left out to keep this file fast;
# the model has only stock Keras layers and BackbonePreprocess, whose round trip the training tests cover.
