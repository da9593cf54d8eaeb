"""Exceptions raised at the boundary of scalefit."""


class ScalefitInputError(ValueError):
    """Bad input: one line that names the file, the column and the first offending row."""


class ScalefitFitError(RuntimeError):
    """The input was valid but a fit could not be carried out."""


class ExtrapolationWarning(UserWarning):
    """A prediction or transfer lies far outside the range of the fitted data."""
