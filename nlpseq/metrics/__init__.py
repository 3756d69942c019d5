from nlpseq.metrics.translation import translation_scores

__all__ = ["translation_scores"]
