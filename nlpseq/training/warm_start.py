"""Starting a tagger from a trained one (`training.init_from`) and freezing layers (`training.freeze`).

Together they grow an ensemble one member at a time: a tagger with `encoder.branches: 2`
started from a trained one-branch tagger holds its weights in branch 1 and the shared
features, and with those frozen only the new branch learns.
"""

import warnings
from pathlib import Path

import keras

from nlpseq.errors import ConfigError


def _relative_path(variable, model):
    # Variables of layers built inside the model's call carry the model's name first; others not.
    return variable.path.removeprefix(f"{model.name}/")


def check_start_dir(model_dir):
    """The directory of `training.init_from` as a Path, once it is known to hold a tagger.

    Raises:
        ConfigError: `model.keras` or the vocabularies (`assets/features.json`) are missing.
    """
    model_dir = Path(model_dir)
    for part in ("model.keras", "assets/features.json"):
        if not (model_dir / part).is_file():
            raise ConfigError(f"training.init_from: {model_dir / part} not found "
                              "(expected a tagger directory of `nlpseq train`)")
    return model_dir


def copy_tagger_weights(model, model_dir):
    """Copies a trained tagger's weights into `model` wherever a variable's name and shape match.

    Args:
        model: the new (built) SequenceTagger.
        model_dir: a tagger directory written by `nlpseq train` (its `model.keras`).

    Returns:
        (copied, total): the variables copied, and how many `model` has.

    Raises:
        ConfigError: the directory is not a tagger's (`check_start_dir`), or no variable matches.
    """
    path = check_start_dir(model_dir) / "model.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the subclassed model's build
        source = keras.models.load_model(path, compile=False)
    stored = {_relative_path(v, source): v.value for v in source.weights}
    if source.word_embedding.storage == "int8" and model.word_embedding.storage == "float":
        # A directory stored with int8 word embeddings: its table as the floats it stands for.
        stored[_relative_path(model.word_embedding.embeddings, model)] = source.word_embedding.table()
    copied = 0
    for variable in model.weights:
        match = stored.get(_relative_path(variable, model))
        if match is not None and tuple(match.shape) == tuple(variable.shape):
            variable.assign(keras.ops.cast(match, variable.dtype))
            copied += 1
    if not copied:
        raise ConfigError(f"training.init_from: no weight of {path} fits this model (another architecture?)")
    return copied, len(model.weights)


def freeze_layers(model, names):
    """Marks top-level layers of a tagger as not trainable (call before compiling).

    Args:
        model: the SequenceTagger.
        names: layer names, e.g. `word_embedding`, `encoder`, `crf`, `encoder_2`.

    Raises:
        ConfigError: a name is not a layer of this model (the message lists them).
    """
    layers = {layer.name: layer for layer in model.layers}
    for name in names or []:
        if name not in layers:
            raise ConfigError(f"training.freeze: the model has no layer '{name}' (it has: {', '.join(layers)})")
        layers[name].trainable = False
