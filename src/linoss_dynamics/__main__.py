"""``python -m linoss_dynamics``: the ``linoss`` command."""

import sys

from .cli import main

sys.exit(main())
