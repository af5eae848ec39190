"""`wise serve`'s prediction workers: a pool of spawned processes, each with its own
`Predictor` (one torch thread), replaced by a fresh pool if one of them dies. The server's
event loop hands each upload's bytes here and awaits the (HTTP status, JSON body)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from wise.errors import WiseError
from wise.normalize import SpeakerStats
from wise.predict import Prediction, PredictOptions, Predictor

log = logging.getLogger("wise.serve")


_predictor: Predictor | None = None


def _init_worker(model: str, options: PredictOptions) -> None:
    import torch

    # Ctrl-C reaches the whole process group: the server shuts the pool down, workers must
    # not die mid-request with a KeyboardInterrupt of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    global _predictor
    _predictor = Predictor(model, options)
    _predictor.warm_up()


def _ready() -> int:
    return os.getpid()


def _predict(data: bytes, text: str | None, name: str,
             stats: SpeakerStats | None = None) -> tuple[int, dict, SpeakerStats | None]:
    """(HTTP status, JSON body, the speaker's statistics) for one upload, in a worker. The
    stage that fails decides the status: decoding (413 too long, 415 unreadable, 400
    readable but unusable) or prediction (422: the transcript does not fit the audio).
    `stats`: the clips of the upload's speaker heard so far (a `speaker` field), which the
    upload joins when it is predicted."""
    p = _predictor
    t0 = time.perf_counter()
    try:
        x = p.read_audio(data, name=name)
    except WiseError as e:
        return _audio_status(data, p.max_seconds), {"error": e.line()}, stats
    decode = time.perf_counter() - t0
    try:
        r = p.predict(x, text, sample_rate=p.features.sample_rate, name=name, speaker=stats)
    except WiseError as e:
        return 422, {"error": e.line()}, stats
    out = r.to_dict()
    # The array path did not count decoding the upload; "total" is the whole request.
    out["seconds"]["load"] = round(out["seconds"].get("load", 0.0) + decode, 4)
    out["seconds"]["total"] = round(time.perf_counter() - t0, 4)
    return 200, out, stats


def _predict_heard(x: np.ndarray, stats: SpeakerStats | None,
                   name: str) -> tuple[Prediction | None, SpeakerStats | None, str]:
    """One utterance of a live session, in a worker: 16 kHz samples, and the statistics of
    the speaker's utterances so far (None: not adapted); (prediction, the statistics with
    this utterance added, "") or (None, the statistics unchanged, the error's line)."""
    p = _predictor
    try:
        r = p.predict(x, sample_rate=p.features.sample_rate, name=name, speaker=stats)
    except WiseError as e:
        return None, stats, e.line()
    return r, stats, ""


def _audio_status(data: bytes, max_seconds: float) -> int:
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return 415
    return 413 if info.frames > max_seconds * info.samplerate else 400



class Pool:
    """The worker processes, replaced by a fresh pool if one of them dies."""

    def __init__(self, model: str | Path, workers: int, options: PredictOptions):
        self.workers = workers
        self._initargs = (str(model), options)
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                   initializer=_init_worker, initargs=self._initargs)

    async def start(self) -> None:
        """Start every worker and load its model, so the first requests do not wait for it."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            await asyncio.gather(*(loop.run_in_executor(self.executor, _ready)
                                   for _ in range(self.workers)))
        except BrokenProcessPool:
            raise RuntimeError("the prediction workers could not load the model") from None
        log.info("%d prediction worker%s ready in %.1f s", self.workers,
                 "s" * (self.workers > 1), time.perf_counter() - t0)

    async def run(self, *args) -> tuple[int, dict, SpeakerStats | None]:
        """`_predict(*args)` in a worker. Raises BrokenProcessPool when a worker died while
        this upload was in the pool (it may have been the one predicting it)."""
        return await self.call(_predict, *args)

    async def heard(self, x: np.ndarray, stats: SpeakerStats | None, name: str
                    ) -> tuple[Prediction | None, SpeakerStats | None, str]:
        """`_predict_heard` in a worker: one utterance of a live session."""
        return await self.call(_predict_heard, x, stats, name)

    async def call(self, fn, *args):
        """`fn(*args)` in a worker, with `run`'s handling of a worker that dies."""
        loop = asyncio.get_running_loop()
        executor = self.executor
        try:
            future = loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            # The pool broke before this upload reached it (a worker died while idle): it is
            # safe to hand it to the new pool.
            executor = self._replace(executor)
            future = loop.run_in_executor(executor, fn, *args)
        try:
            return await future
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A new pool in place of `broken` (once, however many requests saw it break), its
        workers started at once so the next uploads do not each wait for one."""
        if self.executor is broken:
            log.error("a prediction worker died; starting a new pool")
            broken.shutdown(wait=False, cancel_futures=True)
            self.executor = self._new()
            loop = asyncio.get_running_loop()
            for _ in range(self.workers):
                warm = loop.run_in_executor(self.executor, _ready)
                # Nobody waits for these: a pool that breaks again is reported by the next run.
                warm.add_done_callback(lambda f: f.cancelled() or f.exception())
        return self.executor

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
