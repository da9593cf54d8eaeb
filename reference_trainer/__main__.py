"""`python -m reference_trainer ...` (also what torchrun runs with `-m reference_trainer`)."""

import sys

from .cli import main

sys.exit(main())
