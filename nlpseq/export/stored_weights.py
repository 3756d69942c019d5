"""The variables a SavedModel stores for a Keras network: its own float32 ones, or float16 copies.

Every task's SavedModel module (tagger, language model) holds its network
through a `StoredWeights` and runs each serving function inside
`StoredWeights.reading()`:

- float32: the network itself is part of the saved object graph, as usual;
  `reading()` does nothing.
- float16: the network is kept out of the saved graph (its float32 variables
  would be stored as well) and float16 copies of its variables are saved
  instead; `reading()` is a `keras.StatelessScope` in which every network
  variable reads as its copy cast to float32, so the arithmetic stays float32.
- int8 (taggers): as float16, for a network whose word table is int8 codes
  (`nlpseq.export.model_dir.int8_inference_copy`); the int8 variables are
  saved as copies of themselves.
"""

import contextlib
import functools

import keras
import tensorflow as tf

from nlpseq.export.half_precision import check_weights_dtype


class _NotSaved:
    """Holds an object without making it part of a tf.Module's saved object graph."""

    def __init__(self, value):
        self.value = value


class StoredWeights(tf.Module):
    """A network and the variables its SavedModel stores (see the module docstring).

    Args:
        network: a built Keras model or layer.
        weights_dtype: "float32", "float16" or "int8".
    """

    def __init__(self, network, weights_dtype="float32"):
        super().__init__(name="stored_weights")
        check_weights_dtype(weights_dtype)
        if weights_dtype in ("float16", "int8"):
            self._unsaved = _NotSaved(network)
            # Only float and int8 weights are copied; serving never reads the others (e.g. seed state).
            self._unsaved.weights = [w for w in network.weights if w.dtype == "float32"]
            self.float16_weights = [tf.Variable(tf.cast(w.value, tf.float16), trainable=False, name=w.name)
                                    for w in self._unsaved.weights]
            self._unsaved.codes = [w for w in network.weights if w.dtype == "int8"]
            self.int8_weights = [tf.Variable(w.value, trainable=False, name=w.name) for w in self._unsaved.codes]
        else:
            self.network_variables = network  # an attribute: saved with the module

    @property
    def network(self):
        """The Keras network."""
        return self._unsaved.value if hasattr(self, "_unsaved") else self.network_variables

    def reading(self):
        """The context a serving function runs in (float16: variables read as the stored copies)."""
        if not hasattr(self, "_unsaved"):
            return contextlib.nullcontext()
        return keras.StatelessScope(state_mapping=[
            (w, tf.cast(h, tf.float32)) for w, h in zip(self._unsaved.weights, self.float16_weights)]
            + [(w, tf.convert_to_tensor(c)) for w, c in zip(self._unsaved.codes, self.int8_weights)])


def reads_stored_weights(method):
    """Decorates a serving method of a module whose `stored` is a `StoredWeights`:
    its body runs inside `self.stored.reading()`."""
    @functools.wraps(method)
    def body(self, *args):
        with self.stored.reading():
            return method(self, *args)
    return body
