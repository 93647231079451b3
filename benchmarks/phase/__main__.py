"""``python -m benchmarks.phase``: :func:`benchmarks.phase.cli.main`."""
import sys

from .cli import main

sys.exit(main())
