"""Results: immutable values with one protocol (``params``, ``conf_int(level)``,
``summary()``, ``to_dict()``, ``from_dict()``, ``save(path)`` where persisted).

``fit.FitResult`` (with ``load.load_fit``), ``law.Law``, ``quality.TransferQuality``,
``decisions.Prediction`` / ``Audit`` / ``HorizonTransfer`` (and the ``transfer``
function), ``chinchilla.ChinchillaResult``, ``isoflop.IsoflopResult``, ``curves.CurveFit``,
``backtest.BacktestResult``, ``proposals.Proposals``; ``saved.load`` reads any saved one.
Their text is built in ``render/``; the runs to propose in ``planning/``.
"""
