"""``python -m experiments`` is the ``driftsim`` command."""

import sys

from experiments.cli import main

sys.exit(main())
