"""The numeric core: arrays in, arrays out.

Sweeps as arrays (``sweeps``), the optimum of every sweep (``optimum``), the resampling
plan and percentile intervals (``bootstrap``), power and loss laws (``laws``), the
decisions made on laws (``decisions``), the ratio asymptote behind R_inf (``quality``)
and the Chinchilla-form numerics (``chinchilla``). Nothing here imports pandas,
matplotlib, the table edge, results, rendering or the command line, and nothing prints.
"""
