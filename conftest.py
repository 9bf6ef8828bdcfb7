"""Settings for every test run, the notebooks' included (tests/conftest.py has the fixtures)."""

import os

# The notebooks' exercises apply their reference solutions before checking (nbval's kernels
# inherit this), so every checker is seen failing on its starting state and passing on a right answer.
os.environ.setdefault("NETHELPERS_SOLUTIONS", "1")

# Every picture a notebook shows is checked as it is drawn (nethelpers/plot/legibility.py): labels that
# overlap or are too small to read are written to the cell's stderr, which no stored output has.
os.environ.setdefault("NETHELPERS_CHECK_FIGURES", "1")
