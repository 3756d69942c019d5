"""The bookkeeping every trainer shares: seeding, work directory, checkpoints, resumable state, metrics."""

import time
from pathlib import Path

import keras

from nlpseq.checks import is_whole_number
from nlpseq.errors import ConfigError
from nlpseq.export.half_precision import (
    check_weights_dtype,
    round_weights_to_float16,
    round_word_embeddings_to_int8,
)
from nlpseq.training.checkpoints import CheckpointManager
from nlpseq.training.optimizers import OPTIMIZERS


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
        average_last = tcfg.get("average_last") or 0
        if not is_whole_number(average_last, minimum=0):
            raise ConfigError(f"training.average_last must be a whole number of epochs >= 0, got {average_last!r}")
        lr_decay = tcfg.get("lr_decay")
        if lr_decay is not None and (isinstance(lr_decay, bool) or not isinstance(lr_decay, (int, float))
                                     or not 0 < lr_decay <= 1):
            raise ConfigError(f"training.lr_decay must be a factor in (0, 1] or null, got {lr_decay!r}")
        # Checked now, not after training (translation has no such setting).
        self.weights_dtype = check_weights_dtype(config.get("export", {}).get("weights_dtype", "float32"),
                                                 config.get("task"))
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

    def select_final_weights(self, model, dev_score, metric, higher_is_better=True):
        """Loads the weights to ship: the best epoch's, or the mean of the last epochs' if that is better.

        With `training.average_last` N >= 2, the trainable weights of the last
        N epochs run (kept by `EpochMonitor`) are averaged, as OpenNMT's
        checkpoint averaging does. With a dev set the average is scored and
        kept only when it beats the best single epoch; without one (e.g. a
        final model trained on train + dev for a fixed number of epochs) there
        is nothing to judge by, so the average is shipped, as OpenNMT does.

        Args:
            model: the trained model (the one the monitor checkpointed).
            dev_score: callable(logs) -> the dev metric of the model's current weights,
                or None without a dev set.
            metric: the metric's name, for the report.
            higher_is_better: False for losses and perplexity.

        Returns:
            dict of entries for `metrics.json` (empty when averaging is off):
            the averaged epochs, their dev score and which weights were kept.
        """
        self.checkpoints.restore_best(model)
        last = int(self.config["training"].get("average_last") or 0)
        epochs = self.checkpoints.epochs()[-last:] if last >= 2 else []
        if len(epochs) < 2 or self.state["best"] is None:
            return {}
        self.checkpoints.load_average(model, epochs)
        if dev_score is None:
            print(f"no dev set: shipping the average of epochs {epochs[0]}-{epochs[-1]}", flush=True)
            return {"averaged_epochs": epochs, "weights": "averaged"}
        score = float(dev_score({}))
        best = self.state["best"]
        better = score > best if higher_is_better else score < best
        print(f"average of epochs {epochs[0]}-{epochs[-1]}: dev {metric} {score:.4f} "
              f"vs best epoch {self.state['best_epoch']} {best:.4f}; shipping the "
              f"{'average' if better else 'best epoch'}", flush=True)
        if not better:
            self.checkpoints.restore_best(model)
        return {"averaged_epochs": epochs, f"dev_{metric}_averaged": score,
                "weights": "averaged" if better else "best_epoch"}

    def round_for_storage(self, model, metrics, metric, dev_score=None):
        """Rounds the weights as the directory stores them (`export.weights_dtype`).

        float16: every weight to float16; int8 (taggers): that, then the word table to its
        int8 codes. The scores measured after this call (test) then describe the stored
        model; dev is re-scored here into `metrics["dev_<metric>_<dtype>"]`.

        Args:
            model: the trained network (changed in place).
            metrics: the run's metrics dict (updated).
            metric: the dev metric's name.
            dev_score: the dev scoring function of the run (takes the epoch logs), or None.
        """
        if self.weights_dtype == "float32":
            return
        round_weights_to_float16(model)
        if self.weights_dtype == "int8":
            round_word_embeddings_to_int8(model)
        if dev_score is not None:
            metrics[f"dev_{metric}_{self.weights_dtype}"] = dev_score({})

    def metrics(self, task, metric, **extra):
        """The run's summary for `metrics.json`: epochs, time, best dev score, commands, plus `extra`."""
        state = self.state
        return {"task": task, "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
                "train_seconds": round(state["seconds"], 1), f"dev_{metric}": state["best"], **extra,
                "command": state.get("command", self.command), "resumed_with": state.get("resumed_with", [])}

    @property
    def wall_seconds(self):
        return time.time() - self.started
