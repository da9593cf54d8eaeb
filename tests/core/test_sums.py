"""core.sums.rowsum adds a column in the order numpy's sum adds a row: the same bits."""

import numpy as np
import pytest

from scalefit.core.sums import rowsum


@pytest.mark.parametrize("P", [*range(0, 21), 63, 64, 127, 128, 129, 200, 300])
@pytest.mark.parametrize("lead", [(500,), (7, 60)])
def test_rowsum_has_the_bits_of_numpy_sum_over_rows(P, lead):
    rng = np.random.default_rng(P)
    rows = rng.normal(size=(*lead, P)) * 10.0 ** rng.integers(-8, 9, size=(*lead, P))
    cols = np.ascontiguousarray(np.moveaxis(rows, -1, 0))
    np.testing.assert_array_equal(rowsum(cols), rows.sum(-1))
