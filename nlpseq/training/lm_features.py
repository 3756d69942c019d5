"""The language models of a tagger's `features.lm`: loading them and checking they fit together."""

from pathlib import Path

from nlpseq.checks import is_whole_number
from nlpseq.errors import ConfigError
from nlpseq.layers.lm_context import DIRECTIONS


class FeatureLanguageModels:
    """The trained language models a tagger reads for contextual word features.

    Args:
        models: dict direction -> `RNNLanguageModel` (`forward` and/or `backward`).
        tokenizer: their shared `SentencePieceTokenizer`.
    """

    def __init__(self, models, tokenizer):
        self.models = models
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, lm_config):
        """Loads the model directories named by `features.lm`.

        Args:
            lm_config: the `features.lm` dict (`forward`, `backward`: model
                directories written by `nlpseq train lm`, or null; `dim`: the
                projection size, read by the tagger, checked here).

        Returns:
            A FeatureLanguageModels, or None when neither direction is set.

        Raises:
            ConfigError: a directory that is not a SentencePiece language model,
                one trained in the other direction, or two models whose
                SentencePiece vocabularies differ.
            ModelDirError: a missing or incomplete directory.
        """
        import keras

        import nlpseq.models  # noqa: F401  (registers the model classes for loading)
        from nlpseq.export.model_dir import check_model_dir
        from nlpseq.tokenizers.text_encoder import TextEncoder

        lm_config = lm_config or {}
        unknown = set(lm_config) - set(DIRECTIONS) - {"dim"}
        if unknown:
            raise ConfigError(f"features.lm has unknown keys {sorted(unknown)} "
                              f"(expected {', '.join(DIRECTIONS)}, dim)")
        dim = lm_config.get("dim")
        if dim is not None and not is_whole_number(dim):
            raise ConfigError(f"features.lm.dim must be a positive whole number or null, not {dim!r}")
        models, tokenizer = {}, None
        for direction in DIRECTIONS:
            path = lm_config.get(direction)
            if not path:
                continue
            path = Path(path)
            config = check_model_dir(path, kinds=("lm",))
            if bool(config["data"].get("reverse")) != (direction == "backward"):
                side = "right to left" if config["data"].get("reverse") else "left to right"
                raise ConfigError(f"features.lm.{direction}: {path} reads text {side}")
            encoder = TextEncoder.load(path / "assets")
            if encoder.kind != "sentencepiece":
                raise ConfigError(f"features.lm.{direction}: {path} is a word-level model; "
                                  "contextual features need a SentencePiece (e.g. char) model")
            if tokenizer is not None and tokenizer.serialized_model != encoder.sentencepiece.serialized_model:
                raise ConfigError("features.lm: the forward and backward models use different SentencePiece "
                                  "vocabularies; train both on the same text with the same tokenizer settings")
            tokenizer = encoder.sentencepiece
            models[direction] = keras.models.load_model(path / "model.keras", compile=False)
        return cls(models, tokenizer) if models else None

    def specs(self):
        """The `SequenceTagger(lm_specs=...)` argument for these models."""
        return [{"direction": direction, "vocab_size": lm.vocab_size, "embedding_dim": lm.embedding_dim,
                 "units": list(lm.units), "cell": lm.cell, "eos_id": self.tokenizer.eos_id}
                for direction, lm in self.models.items()]

    def copy_into(self, tagger):
        """Copies the models' weights into a built tagger's `LMContextEmbedding` layers."""
        for layer in tagger.lm_embeddings:
            layer.copy_from(self.models[layer.direction])


def cache_lm_states(model, examples, batch_size=64):
    """Replaces the language-model pieces of encoded sentences by the states they give.

    The language models of `features.lm` are frozen, so their output for a
    training sentence never changes: computing it once, instead of in every
    epoch, makes an epoch several times faster.

    Args:
        model: a built SequenceTagger with `lm_embeddings`.
        examples: dicts from `TaggingFeatures.encode`; changed in place
            (`lm_pieces` and `lm_piece_words` give way to `lm_states`, (T, D) float32).
        batch_size: sentences per language-model call.

    Returns:
        `examples`.
    """
    import keras
    import numpy as np

    from nlpseq.data.pipelines import encoded_dataset, padded_batches

    names = ("words", "lm_pieces", "lm_piece_words")
    compute = model.lm_states
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        compute = tf.function(model.lm_states, input_signature=[{n: tf.TensorSpec([None, None], tf.int32) for n in names}])
    # Similar lengths in a batch: less padding for the language models to read.
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["lm_pieces"]))
    inputs = encoded_dataset([{n: examples[i][n] for n in names} for i in order])
    progress = keras.utils.Progbar(len(examples), unit_name="sentence")
    position = 0
    for batch in padded_batches(inputs, batch_size).as_numpy_iterator():
        states = np.asarray(compute(batch), np.float32)
        for row in states:
            example = examples[order[position]]
            example["lm_states"] = row[:len(example["words"])]
            del example["lm_pieces"], example["lm_piece_words"]
            position += 1
        progress.add(len(states))
    return examples
