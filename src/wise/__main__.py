"""`python -m wise ...`, the same as the `wise` command; `torchrun -m wise train ...` starts
it once per process (docs/training.md, "Several processes")."""

import sys

from wise.cli import main

sys.exit(main())
