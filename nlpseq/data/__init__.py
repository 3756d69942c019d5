"""Data loading: tf.data pipelines, local TFDS builders and dataset specs (`tfds:NAME:SPLIT`).

Submodules import TensorFlow; import them explicitly (nothing heavy is imported here).
"""
