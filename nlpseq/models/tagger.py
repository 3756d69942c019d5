"""SequenceTagger: word features + (Bi)RNN encoder + CRF or softmax head."""

import keras
from keras import ops

from keras.src.losses.loss import scale_loss_for_distribution  # no public alias in Keras 3.15

from nlpseq.checks import is_whole_number
from nlpseq.errors import ConfigError
from nlpseq.layers import (
    CRF,
    CasingEmbedding,
    CharBiLSTMEmbedding,
    CharCNNEmbedding,
    LMContextEmbedding,
    RNNEncoder,
    SubwordPooledEmbedding,
    TagHead,
    WordEmbedding,
    crf_decode,
    crf_log_likelihood,
    masked_softmax_cross_entropy,
)

CHAR_TYPES = ("cnn", "bilstm")


@keras.saving.register_keras_serializable(package="nlpseq")
class SequenceTagger(keras.Model):
    """A BiLSTM-CRF style tagger, composed from the shared blocks.

    Inputs are a dict of integer tensors: `words` (B, T) word ids with 0 as
    padding (the padding defines the mask), and, when enabled, `chars` (B, T, C)
    character ids and `casing` (B, T) casing classes. The model outputs emission
    scores (B, T, num_tags); `decode` turns them into tag ids (Viterbi for the CRF
    head, argmax for softmax). Training uses `compute_loss`, so plain `fit` works
    on every Keras backend.

    Args:
        word_vocab_size: number of word ids (including padding and unknown).
        num_tags: number of output tags.
        word_dim: word embedding size.
        char_vocab_size: number of character ids; 0 disables character features.
        char_type: `cnn` or `bilstm`.
        char_dim: character embedding size.
        char_units: CNN filters, or LSTM units per direction.
        char_kernel_size: CNN kernel width.
        casing_dim: casing embedding size; 0 disables the casing feature.
        subword_vocab_size: SentencePiece vocabulary size; 0 disables subword features.
        subword_dim: subword embedding size.
        subword_pooling: `first` or `mean` pooling of a word's pieces.
        feature_dropout: dropout on the concatenated word features.
        cell: `lstm`, `gru` or `simple`.
        units: RNN units per direction.
        num_layers: stacked RNN layers.
        bidirectional: run the RNN both ways.
        encoder_dropout: dropout between RNN layers.
        head: `crf` or `softmax`.
        head_dropout: dropout before the output projection.
        word_trainable: whether the word embeddings are updated in training.
        word_storage: "float", or "int8" for an inference copy whose word table
            is held in 8 bits (`nlpseq.export.half_precision.int8_inference_copy`).
        aux_tags: size of an auxiliary tag set (e.g. XPOS for a UPOS tagger)
            predicted by a softmax head on the encoder output in training
            only; 0 disables it. Its targets come as `aux_tags` (B, T) in the
            input dict, and its cross-entropy joins the loss times `aux_weight`.
        aux_weight: weight of the auxiliary loss.
        lm_specs: contextual features from pretrained language models: a
            list of `LMContextEmbedding` arguments (dicts with `direction`,
            `vocab_size`, `embedding_dim`, `units`, `cell`, `eos_id`), one per
            model, read from `lm_pieces` / `lm_piece_words` in the input dict.
            Their weights are copied in after building (`LMContextEmbedding.copy_from`)
            and stay frozen, so training may pass their output instead, as
            `lm_states` (B, T, D) in the input dict (see `lm_states`).
        lm_dim: if set, a trainable linear projection maps the language-model
            states to this size before they join the other word features (as
            Flair reprojects its embeddings): the encoder's input weights then
            grow by `lm_dim` columns instead of D, which keeps the model small.
        branches: the number of encoder + head (+ CRF) branches over the one set
            of word features. Each branch is initialised on its own and trained
            with its own loss (the losses are summed); prediction adds their
            scores, a product of experts: for the CRF, Viterbi over the summed
            emission scores and transition weights; for softmax, the summed
            log-probabilities. An ensemble of K taggers that stores the word
            embedding table, the largest part of a tagger, once. 1 is a plain tagger.

    Example:
        >>> model = nlpseq.models.SequenceTagger(word_vocab_size=50, num_tags=5, word_dim=8,
        ...     char_vocab_size=0, casing_dim=0, units=4)
    """

    def __init__(
        self,
        word_vocab_size,
        num_tags,
        word_dim=100,
        char_vocab_size=0,
        char_type="cnn",
        char_dim=25,
        char_units=50,
        char_kernel_size=3,
        casing_dim=0,
        subword_vocab_size=0,
        subword_dim=50,
        subword_pooling="first",
        feature_dropout=0.5,
        cell="lstm",
        units=200,
        num_layers=1,
        bidirectional=True,
        encoder_dropout=0.5,
        head="crf",
        head_dropout=0.5,
        word_trainable=True,
        aux_tags=0,
        aux_weight=0.5,
        lm_specs=(),
        lm_dim=None,
        branches=1,
        word_storage="float",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if head not in ("crf", "softmax"):
            raise ConfigError(f"unknown head '{head}' (choose crf or softmax)")
        if not is_whole_number(branches):
            raise ConfigError(f"encoder.branches must be a positive integer, got {branches!r}")
        if char_vocab_size and char_type not in CHAR_TYPES:
            raise ConfigError(f"unknown char feature type '{char_type}' (choose {', '.join(CHAR_TYPES)})")
        self.word_vocab_size = word_vocab_size
        self.num_tags = num_tags
        self.word_dim = word_dim
        self.char_vocab_size = char_vocab_size
        self.char_type = char_type
        self.char_dim = char_dim
        self.char_units = char_units
        self.char_kernel_size = char_kernel_size
        self.casing_dim = casing_dim
        self.subword_vocab_size = subword_vocab_size
        self.subword_dim = subword_dim
        self.subword_pooling = subword_pooling
        self.feature_dropout = feature_dropout
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.encoder_dropout = encoder_dropout
        self.head = head
        self.head_dropout = head_dropout
        self.word_trainable = word_trainable
        self.aux_tags = int(aux_tags)
        self.aux_weight = float(aux_weight)
        self.lm_specs = [dict(spec) for spec in lm_specs]
        self.lm_dim = int(lm_dim) if lm_dim else None
        self.branches = int(branches)
        self.word_storage = word_storage

        self.word_embedding = WordEmbedding(
            word_vocab_size, word_dim, trainable_embeddings=word_trainable, storage=word_storage,
            name="word_embedding",
        )
        self.char_embedding = None
        if char_vocab_size:
            if char_type == "cnn":
                self.char_embedding = CharCNNEmbedding(
                    char_vocab_size, char_dim=char_dim, filters=char_units,
                    kernel_size=char_kernel_size, name="char_embedding",
                )
            else:
                self.char_embedding = CharBiLSTMEmbedding(
                    char_vocab_size, char_dim=char_dim, units=char_units, name="char_embedding"
                )
        self.casing_embedding = (
            CasingEmbedding(dim=casing_dim, name="casing_embedding") if casing_dim else None
        )
        self.subword_embedding = (
            SubwordPooledEmbedding(subword_vocab_size, subword_dim, mode=subword_pooling, name="subword_embedding")
            if subword_vocab_size else None
        )
        self.lm_embeddings = [LMContextEmbedding(**spec, name=f"lm_{spec['direction']}") for spec in self.lm_specs]
        self.lm_projection = (keras.layers.Dense(self.lm_dim, use_bias=False, name="lm_projection")
                              if self.lm_dim and self.lm_specs else None)
        self.dropout = keras.layers.Dropout(feature_dropout)

        def branch(suffix):
            encoder = RNNEncoder(units, cell=cell, num_layers=num_layers, bidirectional=bidirectional,
                                 dropout=encoder_dropout, name=f"encoder{suffix}")
            crf = CRF(num_tags, name=f"crf{suffix}") if head == "crf" else None
            return encoder, TagHead(num_tags, dropout=head_dropout, name=f"tag_head{suffix}"), crf

        # Branch 1 keeps the names of a one-branch tagger, so its saved weights load as before.
        self.encoder, self.tag_head, self.crf = branch("")
        extra = [branch(f"_{k}") for k in range(2, self.branches + 1)]
        self.extra_encoders = [encoder for encoder, _, _ in extra]
        self.extra_tag_heads = [tag_head for _, tag_head, _ in extra]
        self.extra_crfs = [crf for _, _, crf in extra if crf is not None]
        self.aux_head = TagHead(self.aux_tags, dropout=head_dropout, name="aux_head") if self.aux_tags else None

    @property
    def feature_names(self):
        """The keys the model reads from its input dict."""
        names = ["words"]
        if self.char_embedding is not None:
            names.append("chars")
        if self.casing_embedding is not None:
            names.append("casing")
        if self.subword_embedding is not None:
            names += ["pieces", "piece_words"]
        if self.lm_embeddings:
            names += ["lm_pieces", "lm_piece_words"]
        return names

    def lm_states(self, inputs):
        """The contextual features of `features.lm`: the language models' states per word.

        Args:
            inputs: the input dict (`words`, `lm_pieces`, `lm_piece_words`).

        Returns:
            (B, T, D) float tensor, the models' outputs side by side (D is the
            sum of their sizes).
        """
        parts = [layer([inputs["lm_pieces"], inputs["lm_piece_words"], inputs["words"]])
                 for layer in self.lm_embeddings]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def call(self, inputs, training=False):
        words = inputs["words"]
        mask = ops.not_equal(words, 0)
        features = [self.word_embedding(words)]
        if self.char_embedding is not None:
            features.append(self.char_embedding(inputs["chars"]))
        if self.casing_embedding is not None:
            features.append(self.casing_embedding(inputs["casing"]))
        if self.subword_embedding is not None:
            # piece_words is 1-based with 0 for padding; the layer wants -1 there.
            word_index = ops.cast(inputs["piece_words"], "int32") - 1
            features.append(self.subword_embedding([inputs["pieces"], word_index, words]))
        states = None
        if "lm_states" in inputs:  # cached in training: the language models are frozen
            states = ops.cast(inputs["lm_states"], features[0].dtype)
        elif self.lm_embeddings:
            states = ops.cast(self.lm_states(inputs), features[0].dtype)
        if states is not None:
            features.append(self.lm_projection(states) if self.lm_projection is not None else states)
        x = features[0] if len(features) == 1 else ops.concatenate(features, axis=-1)
        encoders = [self.encoder] + self.extra_encoders
        heads = [self.tag_head] + self.extra_tag_heads
        branch_scores, encoded = [], None
        for encoder, tag_head, crf in zip(encoders, heads, self._branch_crfs()):
            # Each branch draws its own dropout mask over the shared features.
            states = encoder(self.dropout(x, training=training), mask=mask, training=training)
            encoded = states if encoded is None else encoded
            scores = tag_head(states, training=training)
            if crf is not None:
                # The CRF passes the scores through; calling it here builds its weights whenever
                # the model is built, which loading a saved model relies on.
                scores = crf(scores)
            # The CRF and the loss work in float32 even under mixed precision.
            branch_scores.append(ops.cast(scores, "float32"))
        if self.branches == 1:
            scores = branch_scores[0]
        elif training:
            scores = ops.stack(branch_scores)  # (K, B, T, tags): one loss per branch
        else:
            scores = self._combine(branch_scores)
        if self.aux_head is not None:
            # Run (and so built) on every call; its output only serves the training loss.
            aux_scores = ops.cast(self.aux_head(encoded, training=training), "float32")
            if training:
                return scores, aux_scores
        return scores

    def _branch_crfs(self):
        """Each branch's CRF layer, or None per branch for the softmax head."""
        return [self.crf] + self.extra_crfs if self.crf is not None else [None] * self.branches

    def _combine(self, branch_scores):
        """The product of the branches' experts as one score tensor (see `branches`)."""
        if self.crf is None:
            # Summed log-probabilities: the argmax of the product of the softmaxes.
            branch_scores = [ops.log_softmax(s, axis=-1) for s in branch_scores]
        return sum(branch_scores[1:], branch_scores[0])

    def crf_weights(self):
        """(transitions, start, end) of the CRF, summed over the branches' CRFs."""
        parts = [crf._weights() for crf in self._branch_crfs()]
        return tuple(sum(p[i] for p in parts[1:]) + parts[0][i] for i in range(3))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mask = ops.not_equal(x["words"], 0)
        tags = ops.cast(y, "int32")
        aux_loss = None
        if isinstance(y_pred, (tuple, list)):  # training with the auxiliary head
            y_pred, aux_scores = y_pred
            aux_loss = masked_softmax_cross_entropy(aux_scores, ops.cast(x["aux_tags"], "int32"), mask)
        if self.branches > 1 and len(y_pred.shape) == 4:  # training: each branch learns on its own
            loss = sum(self._tag_loss(y_pred[k], tags, mask, crf) for k, crf in enumerate(self._branch_crfs()))
        elif self.branches > 1 and self.crf is not None:
            # The combined scores are those of one CRF with the summed transition weights.
            loss = -ops.mean(crf_log_likelihood(y_pred, tags, mask, *self.crf_weights()))
        else:
            loss = self._tag_loss(y_pred, tags, mask, self.crf)
        if aux_loss is not None:
            loss = loss + self.aux_weight * aux_loss
        if self.losses:
            loss = loss + ops.sum(self.losses)
        # Keras' built-in losses divide by the replica count under tf.distribute
        # (gradients are summed over replicas); a custom compute_loss must too.
        return scale_loss_for_distribution(loss)

    @staticmethod
    def _tag_loss(scores, tags, mask, crf):
        if crf is not None:
            return -ops.mean(crf.log_likelihood(scores, tags, mask))
        return masked_softmax_cross_entropy(scores, tags, mask)

    def decode(self, inputs):
        """Predicts tag ids.

        Args:
            inputs: the input dict (see the class docstring).

        Returns:
            int32 tensor (B, T) of tag ids; padded positions hold 0.
        """
        scores = self(inputs, training=False)
        mask = ops.not_equal(inputs["words"], 0)
        if self.crf is not None:
            if self.branches == 1:
                tags, _ = self.crf.decode(scores, mask)
            else:
                tags, _ = crf_decode(scores, mask, *self.crf_weights())
            return ops.cast(tags, "int32")
        tags = ops.cast(ops.argmax(scores, axis=-1), "int32")
        return ops.where(mask, tags, ops.zeros_like(tags))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                name: getattr(self, name)
                for name in (
                    "word_vocab_size", "num_tags", "word_dim", "char_vocab_size", "char_type",
                    "char_dim", "char_units", "char_kernel_size", "casing_dim", "subword_vocab_size",
                    "subword_dim", "subword_pooling", "feature_dropout",
                    "cell", "units", "num_layers", "bidirectional", "encoder_dropout", "head",
                    "head_dropout", "word_trainable", "aux_tags", "aux_weight", "lm_specs", "lm_dim",
                    "branches", "word_storage",
                )
            }
        )
        return config


def tagger_from_config(config, word_vocab_size, char_vocab_size, num_tags, subword_vocab_size=0, aux_tags=0,
                       lm_specs=()):
    """Builds a SequenceTagger from a resolved task config.

    Args:
        config: the resolved config dict (see `nlpseq.training.config`).
        word_vocab_size: size of the word vocabulary.
        char_vocab_size: size of the character vocabulary (0 when chars are off).
        num_tags: number of tags.
        subword_vocab_size: SentencePiece vocabulary size (0 when subwords are off).
        aux_tags: size of the auxiliary tag set of `head.aux_field` (0: none).
        lm_specs: the `LMContextEmbedding` arguments of `features.lm` (see `SequenceTagger`).

    Returns:
        An unbuilt SequenceTagger.
    """
    feats, enc, head = config["features"], config["encoder"], config["head"]
    char = feats["char"]
    return SequenceTagger(
        word_vocab_size=word_vocab_size,
        num_tags=num_tags,
        word_dim=feats["word"]["dim"],
        char_vocab_size=char_vocab_size if char["type"] not in (None, "none") else 0,
        char_type=char["type"] or "cnn",
        char_dim=char["dim"],
        char_units=char["units"],
        char_kernel_size=char["kernel_size"],
        casing_dim=feats["casing"]["dim"],
        subword_vocab_size=subword_vocab_size,
        subword_dim=feats["subword"]["dim"],
        subword_pooling=feats["subword"]["pooling"],
        feature_dropout=feats["dropout"],
        cell=enc["cell"],
        units=enc["units"],
        num_layers=enc["num_layers"],
        bidirectional=enc["bidirectional"],
        encoder_dropout=enc["dropout"],
        head=head["type"],
        head_dropout=head["dropout"],
        word_trainable=feats["word"]["trainable"],
        aux_tags=aux_tags,
        aux_weight=head.get("aux_weight", 0.5),
        lm_specs=lm_specs,
        lm_dim=(feats.get("lm") or {}).get("dim"),
        branches=enc.get("branches", 1),
    )
