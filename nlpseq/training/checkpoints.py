"""Epoch checkpoints that survive a kill: weights, optimizer state and trainer state.

Every file is written to a temporary name and renamed, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of one.
"""

import json
from pathlib import Path

import keras
import numpy as np

from nlpseq import atomic_files


def _atomic(path, write):
    with atomic_files.atomic_path(path) as tmp:
        write(str(tmp))


class CheckpointManager:
    """Saves and restores the training state of one run.

    Args:
        directory: where checkpoints live (created if needed).

    The state holds the next epoch to run, the best dev metric and its epoch,
    the early-stopping wait counter and the per-epoch history.
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state_path = self.directory / "state.json"

    def has_checkpoint(self):
        """Whether a resumable checkpoint exists."""
        return self.state_path.is_file() and (self.directory / "last.weights.h5").is_file()

    def load_state(self):
        """Returns the saved state dict."""
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def save(self, model, state):
        """Writes the last weights (with the optimizer state), then the state file: the commit point."""
        _atomic(self.directory / "last.weights.h5", model.save_weights)
        atomic_files.write_text(self.state_path, json.dumps(state, indent=1))

    def save_best(self, model):
        """Keeps the weights of the best epoch so far."""
        _atomic(self.directory / "best.weights.h5", model.save_weights)

    def restore_last(self, model):
        """Loads the last weights and optimizer state into a built, compiled model."""
        # Keras stores the optimizer's variables in the weights file; they load
        # only into an optimizer that already has its slots.
        model.optimizer.build(model.trainable_variables)
        model.load_weights(self.directory / "last.weights.h5")

    def restore_best(self, model):
        """Loads the best weights if any were saved."""
        path = self.directory / "best.weights.h5"
        if path.is_file():
            model.load_weights(path)

    def save_epoch(self, model, epoch, keep):
        """Keeps the trainable weights of `epoch` (1-based) for averaging, and only the last `keep` epochs'."""
        values = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        _atomic(self.directory / f"epoch-{epoch:04d}.npz", lambda p: np.savez(p, *values))
        for old in self.epochs():
            if old <= epoch - keep:
                (self.directory / f"epoch-{old:04d}.npz").unlink(missing_ok=True)

    def epochs(self):
        """The (1-based, ascending) epochs whose weights `save_epoch` kept."""
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("epoch-*.npz"))

    def load_average(self, model, epochs):
        """Sets the model's trainable weights to the mean of the given kept epochs'."""
        variables = model.trainable_variables
        sums = None
        for epoch in epochs:
            with np.load(self.directory / f"epoch-{epoch:04d}.npz") as saved:
                values = [saved[f"arr_{i}"].astype(np.float64) for i in range(len(saved.files))]
            if len(values) != len(variables):
                raise ValueError(f"epoch {epoch}'s weights do not match the model ({len(values)} vs {len(variables)})")
            sums = values if sums is None else [a + b for a, b in zip(sums, values)]
        for variable, total in zip(variables, sums):
            variable.assign((total / len(epochs)).astype(variable.dtype))
