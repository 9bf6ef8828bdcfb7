"""Settings for every test run, the notebooks' included (tests/conftest.py has the fixtures)."""

import os

# The notebooks' exercises apply their reference solutions before checking (nbval's kernels
# inherit this), so every checker is seen failing on its starting state and passing on a right answer.
os.environ.setdefault("NETHELPERS_SOLUTIONS", "1")
