"""The bookkeeping every trainer shares: seeding, work directory, checkpoints, resumable state, metrics."""

import time
from pathlib import Path

import keras

from nlpseq.errors import ConfigError
from nlpseq.training.checkpoints import CheckpointManager

OPTIMIZERS = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam, "sgd": keras.optimizers.SGD}


class TrainingRun:
    """One training run of any task.

    It seeds Keras, checks the optimizer choice, sets up `work_dir`
    (checkpoints, TensorBoard logs, the run's vocabularies) and holds the
    state that `EpochMonitor` updates and checkpoints: the next epoch, the
    best dev score and its epoch, the early-stopping wait, the per-epoch
    history, the current learning rate and the commands that ran it.

    Args:
        config: the resolved config (uses `seed` and `training`).
        output_dir: the model directory the run will write.
        work_dir: checkpoints and logs; default `runs/<output name>`.
        resume: continue from the last checkpoint in `work_dir`.
        command: the command line for the model card (default: this process's).
    """

    def __init__(self, config, output_dir, work_dir=None, resume=False, command=None):
        from nlpseq.export.model_dir import current_command

        self.config = config
        self.command = command or current_command()
        keras.utils.set_random_seed(config["seed"])
        tcfg = config["training"]
        if tcfg["optimizer"] not in OPTIMIZERS:
            raise ConfigError(f"unknown training.optimizer '{tcfg['optimizer']}' (choose {', '.join(OPTIMIZERS)})")
        self.work_dir = Path(work_dir or Path("runs") / Path(output_dir).name)
        self.checkpoints = CheckpointManager(self.work_dir / "checkpoints")
        self.resume = bool(resume)
        if self.resume and not self.checkpoints.has_checkpoint():
            raise ConfigError(f"--resume: no checkpoint in {self.checkpoints.directory}")
        self.started = time.time()
        self.state = {"epoch": 0, "best": None, "best_epoch": None, "wait": 0, "history": [], "seconds": 0.0,
                      "command": self.command, "resumed_with": [], "learning_rate": tcfg["learning_rate"]}

    def optimizer(self):
        """A new optimizer of the config (global gradient-norm clipping, as RNN recipes do)."""
        tcfg = self.config["training"]
        return OPTIMIZERS[tcfg["optimizer"]](learning_rate=tcfg["learning_rate"],
                                             global_clipnorm=tcfg["global_clipnorm"])

    def restore(self, model):
        """On `--resume`: loads the last checkpoint (weights, optimizer slots) and the run's state."""
        if not self.resume:
            return
        self.checkpoints.restore_last(model)
        self.state.clear()
        self.state.update(self.checkpoints.load_state())
        self.state.setdefault("resumed_with", []).append(self.command)
        if "learning_rate" in self.state:  # a decayed rate continues decayed
            model.optimizer.learning_rate = self.state["learning_rate"]
        print(f"resumed after epoch {self.state['epoch']} (best dev score {self.state['best']})")

    def epochs_left(self):
        return self.state["epoch"] < self.config["training"]["epochs"]

    def metrics(self, task, metric, **extra):
        """The run's summary for `metrics.json`: epochs, time, best dev score, commands, plus `extra`."""
        state = self.state
        return {"task": task, "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
                "train_seconds": round(state["seconds"], 1), f"dev_{metric}": state["best"], **extra,
                "command": state.get("command", self.command), "resumed_with": state.get("resumed_with", [])}

    @property
    def wall_seconds(self):
        return time.time() - self.started
