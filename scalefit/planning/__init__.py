"""Which runs to train next (docs/math.md sections 10 and 11): everything that proposes runs.

``plan.py`` (a fit's LR sweeps -> the planner's inputs), ``proposal_rows.py`` (the picks ->
a ``Proposals`` result), ``joint_plan.py`` and ``joint_new.py`` (a ``--joint`` fit's
LR x batch-size surfaces), ``next.py`` (``scalefit.next_runs`` and ``scalefit next``: fit a
table, propose, the table of runs to do). ``FitResult.next_runs`` calls
``proposal_rows.propose_runs``; the results hold values only. Nothing is imported here, so
that ``FitResult.next_runs`` does not load the table path (``next.py`` fits tables).
"""
