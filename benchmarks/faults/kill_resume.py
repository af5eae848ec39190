"""Kill and resume: every long command, SIGKILLed at seeded random points and run again, must
end with the outputs of a run that was never interrupted.

    python benchmarks/faults/kill_resume.py [--kills 6] [--seed 0] [--references 2]
        [--size full|ci] [--commands ...] [--work DIR]
        [--out benchmarks/results/reliability/kill_resume.json]

The harness lives in wise.testing.kill_resume (src/wise/testing/kill_resume.py), where its
docstring says what it does; tests/slow/test_kill_resume.py imports it from there.
"""

import sys

from wise.testing.kill_resume import main

if __name__ == "__main__":
    sys.exit(main())
