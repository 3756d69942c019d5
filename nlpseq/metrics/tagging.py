"""Tagging metrics: entity-level P/R/F1 (seqeval, conlleval-compatible) and token accuracy."""

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score


def entity_scores(gold, predicted):
    """Entity-level micro precision, recall and F1, as conlleval computes them.

    Args:
        gold: list of tag lists in the BIO scheme.
        predicted: list of tag lists in the BIO scheme, aligned with `gold`.

    Returns:
        dict with `precision`, `recall`, `f1` (fractions) and `report`, the
        per-type table as text.
    """
    return {
        "precision": float(precision_score(gold, predicted, zero_division=0)),
        "recall": float(recall_score(gold, predicted, zero_division=0)),
        "f1": float(f1_score(gold, predicted, zero_division=0)),
        "report": classification_report(gold, predicted, digits=4, zero_division=0),
    }


def token_accuracy(gold, predicted):
    """Fraction of tokens whose predicted tag equals the gold tag.

    Args:
        gold: list of tag lists.
        predicted: list of tag lists aligned with `gold`.

    Returns:
        The accuracy as a float (0.0 when there are no tokens).
    """
    total = correct = 0
    for g_tags, p_tags in zip(gold, predicted):
        total += len(g_tags)
        correct += sum(g == p for g, p in zip(g_tags, p_tags))
    return correct / total if total else 0.0
