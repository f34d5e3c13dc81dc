"""The shared classification head and how a model is put together from its frozen trunk and trainable top."""

from __future__ import annotations

from ..backend import keras as _keras

keras = _keras()
layers = keras.layers


def classification_head(x, num_classes: int, l2: float = 1e-4, name: str = "head"):
    """Dropout 0.2 -> BN -> Dense 128 ReLU (He init, L2) -> Dropout 0.4 -> BN -> softmax (the paper's Tables 6, 10)."""
    regulariser = keras.regularizers.L2(l2) if l2 > 0 else None
    x = layers.Dropout(0.2, name=f"{name}_dropout1")(x)
    x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = layers.Dense(128, activation="relu", kernel_initializer="he_normal", kernel_regularizer=regulariser,
                     name=f"{name}_dense")(x)
    x = layers.Dropout(0.4, name=f"{name}_dropout2")(x)
    x = layers.BatchNormalization(name=f"{name}_bn2")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def probe_top(trunk, num_classes: int):
    """A linear probe as a Keras top: one softmax layer on the trunk's features. Its weights are not
    trained by Keras but set from a fitted scikit-learn logistic regression (:func:`set_probe_weights`),
    so the saved model predicts exactly what the probe does."""
    top_input = keras.Input(trunk.output.shape[1:], name="trunk_features")
    probabilities = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(top_input)
    return keras.Model(top_input, probabilities, name="top")


def image_input(input_size: int):
    return keras.Input((input_size, input_size, 3), name="image")


def compose(trunk, top, name: str):
    """The whole model, ``top(trunk(image))``, from its two parts."""
    image = image_input(int(trunk.input.shape[1]))
    return keras.Model(image, top(trunk(image)), name=name)
