"""Predicting and scoring a tagger on a list of sentences (used by training and `nlpseq evaluate`)."""

import weakref

import keras
import numpy as np

from nlpseq.data.pipelines import encoded_dataset, padded_batches
from nlpseq.metrics.tagging import entity_scores, token_accuracy
from nlpseq.readers.schemes import convert_tags

_DECODERS = weakref.WeakKeyDictionary()


def _decode_function(model, keys):
    """A decode function compiled once for any batch and sentence length.

    Keras' own `predict_on_batch` retraces for new shapes; on the TensorFlow
    backend one trace with unknown dimensions serves every batch.

    Args:
        model: the SequenceTagger.
        keys: the input names of the batches (`lm_states` when they are cached).
    """
    if keras.backend.backend() != "tensorflow":
        return model.decode  # eager on other backends: slower, same results
    keys = tuple(sorted(keys))
    decoders = _DECODERS.setdefault(model, {})
    if keys not in decoders:
        import tensorflow as tf

        spec = {name: tf.TensorSpec([None, None] + ([None] if name == "chars" else []), tf.int32) for name in keys}
        if "lm_states" in spec:
            spec["lm_states"] = tf.TensorSpec([None, None, None], tf.float32)
        decoders[keys] = tf.function(model.decode, input_signature=[spec])
    return decoders[keys]


def predict_tags(model, features, word_lists, batch_size=256, encoded=None):
    """Tags sentences with a SequenceTagger.

    Sentences are sorted by length before batching (less padding), and the
    results are put back in input order.

    Args:
        model: a SequenceTagger.
        features: its TaggingFeatures.
        word_lists: list of word lists.
        batch_size: sentences per batch.
        encoded: the sentences already encoded (aligned with `word_lists`),
            e.g. with cached language-model states; None encodes them here.

    Returns:
        list of tag-string lists, aligned with `word_lists`.
    """
    if not word_lists:
        return []
    order = sorted(range(len(word_lists)), key=lambda i: len(word_lists[i]))
    encoded = [features.encode(word_lists[i]) if encoded is None else encoded[i] for i in order]
    results = [None] * len(word_lists)
    position = 0
    decode = _decode_function(model, encoded[0].keys())
    for batch in padded_batches(encoded_dataset(encoded), batch_size).as_numpy_iterator():
        tag_ids = np.asarray(decode(batch))
        for row in tag_ids:
            index = order[position]
            n = len(word_lists[index])
            results[index] = [features.tags[t] for t in row[:n]]
            position += 1
    return results


def score_tagging(task, gold, predicted, model_scheme=None):
    """Scores predictions: entity P/R/F1 for NER, token accuracy otherwise.

    Args:
        task: `ner` or `pos`.
        gold: list of gold tag lists (in `model_scheme` for NER).
        predicted: list of predicted tag lists (same scheme).
        model_scheme: the entity scheme of the tags, converted to BIO for scoring.

    Returns:
        dict of metrics (fractions); NER adds a `report` text.
    """
    if task == "ner":
        if model_scheme and model_scheme.upper() not in ("BIO", "IOB2"):
            gold = [convert_tags(t, model_scheme, "BIO") for t in gold]
            predicted = [convert_tags(t, model_scheme, "BIO") for t in predicted]
        return entity_scores(gold, predicted)
    return {"accuracy": token_accuracy(gold, predicted)}


def main_metric(task):
    """The dev metric early stopping watches (higher is better)."""
    return "f1" if task == "ner" else "accuracy"
