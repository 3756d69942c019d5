"""Epoch checkpoints that survive a kill: weights, optimizer state and trainer state.

Every file is written to a temporary name and renamed, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of one.
"""

import json
import os
from pathlib import Path



def _atomic(path, write):
    path = Path(path)
    # The prefix keeps the suffix intact (Keras insists on `.weights.h5`).
    tmp = path.with_name(".tmp-" + path.name)
    write(str(tmp))
    os.replace(tmp, path)


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
        _atomic(self.state_path, lambda p: Path(p).write_text(json.dumps(state, indent=1), encoding="utf-8"))

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
