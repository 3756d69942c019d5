"""`python -m nlpseq` runs the CLI."""

import sys

from nlpseq.cli import main

sys.exit(main())
