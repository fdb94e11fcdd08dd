"""The one compiled module: bcecli/core/_tally.c, optional (without a C compiler the install
goes on, and the binary fast path runs on numpy alone: same results, about 2x the CPU time)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("bcecli.core._tally", ["bcecli/core/_tally.c"], optional=True),
    ]
)
