"""The per-epoch bookkeeping of a training run, as one Keras callback."""

import time

import keras


class EpochMonitor(keras.callbacks.Callback):
    """Scores the dev set, keeps the best weights, checkpoints, and stops early.

    At the end of every epoch it adds `val_<metric>` to the epoch logs (so the
    progress bar and TensorBoard show it; place it before those callbacks),
    saves the best weights when the dev metric improves, writes a resumable
    checkpoint, and sets `model.stop_training` after `patience` epochs without
    improvement.

    Args:
        evaluate: callable(epoch logs) -> float, the dev metric.
        metric: the metric's name, e.g. `f1`.
        checkpoints: a `CheckpointManager`.
        state: the trainer state dict (mutated in place; restored on resume).
        patience: epochs without improvement before stopping.
        higher_is_better: False for metrics such as perplexity.
        lr_decay: if set, multiply the optimizer's learning rate by this factor
            after every epoch without improvement (decay on plateau). The rate
            is kept in `state["learning_rate"]`, so a resumed run continues
            with the decayed rate.
        decay_start: if set, also decay after every epoch from this (1-based)
            epoch on, improved or not (the fixed schedule of Zaremba et al.).
        keep_epochs: if 2 or more, also keep the trainable weights of the last
            `keep_epochs` epochs, for `TrainingRun.select_final_weights` to average.
    """

    def __init__(self, evaluate, metric, checkpoints, state, patience, higher_is_better=True, lr_decay=None,
                 decay_start=None, keep_epochs=0):
        super().__init__()
        self.keep_epochs = keep_epochs
        self.evaluate = evaluate
        self.metric = metric
        self.checkpoints = checkpoints
        self.state = state
        self.patience = patience
        self.higher_is_better = higher_is_better
        self.lr_decay = lr_decay
        self.decay_start = decay_start
        self._epoch_start = None

    def _improves(self, score):
        best = self.state["best"]
        if best is None:
            return True
        return score > best if self.higher_is_better else score < best

    def on_train_begin(self, logs=None):
        if self.state["wait"] >= self.patience:
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        loss = float(logs.get("loss", float("nan")))
        score = float(self.evaluate(logs))
        logs[f"val_{self.metric}"] = score
        state = self.state
        improved = self._improves(score)
        if improved:
            state.update(best=score, best_epoch=epoch + 1, wait=0)
            self.checkpoints.save_best(self.model)
        else:
            state["wait"] += 1
        scheduled = self.decay_start is not None and epoch + 1 >= self.decay_start
        if self.lr_decay and (scheduled or not improved):
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)) * self.lr_decay
            self.model.optimizer.learning_rate = rate
            state["learning_rate"] = rate
            print(f"learning rate decayed to {rate:.3g}")
        seconds = time.time() - self._epoch_start
        state["seconds"] += seconds
        state["history"].append(
            {"epoch": epoch + 1, "loss": loss, f"dev_{self.metric}": score, "seconds": round(seconds, 1)}
        )
        state["epoch"] = epoch + 1
        if self.keep_epochs >= 2:
            # Before the state file commits the epoch, so a resumed run rewrites it.
            self.checkpoints.save_epoch(self.model, epoch + 1, self.keep_epochs)
        self.checkpoints.save(self.model, state)
        print(f"epoch {epoch + 1}: loss {loss:.4f}  dev {self.metric} {score:.4f}"
              f"{'  (best)' if improved else ''}  {seconds:.0f}s", flush=True)
        if state["wait"] >= self.patience:
            print(f"early stop: no dev {self.metric} gain in {self.patience} epochs")
            self.model.stop_training = True


class EpochSeeds(keras.callbacks.Callback):
    """Reseeds every random generator of the model (dropout masks) at the start of each epoch.

    Keras keeps a generator's state in a variable that weight files do not
    save, so a resumed run would otherwise draw different dropout masks from
    the uninterrupted one. Seeding from (run seed, epoch, generator index)
    makes epoch k's masks the same however the run got there.

    Args:
        seed: the run's seed.
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = int(seed)

    def on_epoch_begin(self, epoch, logs=None):
        # Variables come in layer order, the same for the same architecture (names are not:
        # their numbers depend on how many generators the process made before).
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for index, state in enumerate(states):
            value = [self.seed * 1_000_003 + index, epoch]
            state.assign(keras.ops.convert_to_tensor(value, dtype=state.dtype))
