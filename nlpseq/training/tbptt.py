"""Truncated backpropagation through time with Keras `fit`.

`StreamTrainer` wraps a language model for training on consecutive windows
of a token stream (`nlpseq.data.lm_stream.stream_windows`): it keeps the
recurrent state of every row in non-trainable variables, starts each window
from the state the previous window ended in (without backpropagating into it),
and `ResetStates` zeroes the state at the start of every epoch. Carrying the
state in variables rather than Python keeps the whole epoch inside Keras' compiled
train step on every backend (on JAX the variables are part of the step's state).
"""

import keras
from keras import ops


class StreamTrainer(keras.Model):
    """Trains `lm` on stream windows of a fixed number of rows, carrying state between windows.

    Args:
        lm: an `RNNLanguageModel` (it holds every trainable weight).
        batch_size: number of rows of the stream (fixed: the state has one row each).

    Returns:
        `call(inputs)` returns the (B, T, V) logits of a window and updates the
        carried state; `compute_loss` is the language model's.
    """

    def __init__(self, lm, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.lm = lm
        self.batch_size = int(batch_size)
        self.carried = [
            self.add_weight(shape=(self.batch_size, size), initializer="zeros", trainable=False,
                            name=f"carried_state_{i}")
            for i, size in enumerate(lm.state_sizes)
        ]

    def reset_states(self):
        """Zeroes the carried state (start of an epoch)."""
        for variable in self.carried:
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def call(self, inputs, training=None):
        # `.value` reads the variable, or its current value inside JAX's stateless train step.
        states = [ops.stop_gradient(v.value) for v in self.carried]
        logits, states = self.lm.forward(inputs, states, training=training)
        for variable, state in zip(self.carried, states):
            variable.assign(ops.cast(state, variable.dtype))
        return logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.lm.compute_loss(x, y, y_pred, sample_weight, training)


class ResetStates(keras.callbacks.Callback):
    """Zeroes a `StreamTrainer`'s carried state at the start of every epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()
