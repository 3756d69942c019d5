"""Train the pos tagger: a thin wrapper over `nlpseq train pos`.

Usage (from the repository root):
    python tasks/pos/train.py --config tasks/pos/ud_ewt.yaml --output saved_models/pos-ud-ewt
"""

import sys

from nlpseq.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "pos", *sys.argv[1:]]))
