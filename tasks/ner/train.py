"""Train the ner tagger: a thin wrapper over `nlpseq train ner`.

Usage (from the repository root):
    python tasks/ner/train.py --config tasks/ner/conll2003.yaml --output saved_models/ner-conll2003
"""

import sys

from nlpseq.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "ner", *sys.argv[1:]]))
