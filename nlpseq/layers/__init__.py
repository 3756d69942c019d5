"""Keras building blocks: embeddings, RNN encoder, CRF and tagging heads.

Every layer uses `keras.ops` only (any Keras backend) and is registered for
`.keras` saving under the package name "nlpseq".
"""

from nlpseq.layers.attention import ATTENTION_TYPES, Attention, AttentionDecoderCell
from nlpseq.layers.crf import (
    CRF,
    crf_decode,
    crf_log_likelihood,
    crf_log_norm,
    crf_sequence_score,
)
from nlpseq.layers.embeddings import (
    NUM_CASING_CLASSES,
    CasingEmbedding,
    CharBiLSTMEmbedding,
    CharCNNEmbedding,
    SubwordPooledEmbedding,
    WordEmbedding,
)
from nlpseq.layers.heads import TagHead, masked_softmax_cross_entropy
from nlpseq.layers.lm_context import LMContextEmbedding
from nlpseq.layers.rnn_encoder import RNNEncoder, cudnn_eligible
from nlpseq.layers.rnn_stack import RecurrentStack, VariationalDropout

__all__ = [
    "ATTENTION_TYPES",
    "Attention",
    "AttentionDecoderCell",
    "CRF",
    "crf_decode",
    "crf_log_likelihood",
    "crf_log_norm",
    "crf_sequence_score",
    "NUM_CASING_CLASSES",
    "CasingEmbedding",
    "CharBiLSTMEmbedding",
    "CharCNNEmbedding",
    "SubwordPooledEmbedding",
    "WordEmbedding",
    "LMContextEmbedding",
    "RNNEncoder",
    "RecurrentStack",
    "VariationalDropout",
    "cudnn_eligible",
    "TagHead",
    "masked_softmax_cross_entropy",
]
