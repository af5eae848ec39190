"""How a command runs, as opposed to what it computes: where the feature cache is, how many
processes do the per-file work and how many trainings run at once, whether progress is shown,
on which Ray cluster, and where log lines go.

None of these changes a result (a rerun with other workers or jobs gives the same files, bit
for bit), so none is part of a run's config or its cache keys. The command line builds one
`Runtime` (`wise.cli`) and hands it down through cross-validation, reproduction and the ASR
study, as faster-whisper packs its `TranscriptionOptions` once and passes them on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Runtime:
    cache: str | Path | None = None     # feature cache folder (None: wise-cache/ by the manifest)
    workers: int | None = None          # processes for per-file work (None: one per core)
    jobs: int = 1                       # (seed, fold) trainings at once
    progress: bool = True               # bars on a terminal, plain lines in a log
    ray: str | None = None              # a Ray cluster's address ("auto"), or None: this machine
    log: Callable[[str], object] = print

    def indented(self, prefix: str = "  ") -> Runtime:
        """The same, with every log line indented (a step's lines under its heading)."""
        return replace(self, log=lambda line: self.log(prefix + line))


DEFAULT_RUNTIME = Runtime()
"""This machine, the default workers, one training at a time, progress shown, log to stdout."""
