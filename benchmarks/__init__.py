"""reluinj benchmark harness: ``reluinj bench`` (see :mod:`benchmarks.harness`)."""
