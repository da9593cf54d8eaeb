"""Results: immutable objects with one protocol (``params``, ``conf_int(level)``,
``summary()``, ``to_dict()``, ``from_dict()``).

``fit.FitResult`` (with ``load.load_fit``), ``law.Law``, ``quality.TransferQuality``,
``decisions.Prediction`` / ``Audit`` / ``HorizonTransfer`` (and the ``transfer``
function), ``chinchilla.ChinchillaResult``.
"""
