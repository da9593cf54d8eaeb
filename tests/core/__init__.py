"""Tests of scalefit/core/, one module per core module, against plain reference code.

A package so that ``tests/core/test_optimum.py`` and ``tests/test_optimum.py`` can share a
basename (pytest imports this one as ``core.test_optimum``).
"""
