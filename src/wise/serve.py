"""`wise serve`: an HTTP service and a web page for one checkpoint.

A prediction is CPU-bound (ASR, forced alignment, MFCC, the model) and `Predictor` serialises
its aligner and recogniser on a lock, so threads would take turns. Predictions therefore run in
a pool of `workers` processes (spawned, so no process inherits torch's state from the server);
each loads its own `Predictor` once and uses one torch thread, and concurrent requests are
served in parallel, one per process. The event loop only reads uploads and hands their bytes to
the pool: audio is decoded in memory and nothing is written to disk.

The checkpoint is loaded and checked in the server process before anything listens, so a bad
checkpoint ends `wise serve` with one error line. Uploads are bounded while they are read
(Content-Length first, then a running count), and every expected fault is answered as JSON
`{"error": "<one line>"}` with a 4xx status:

    400  no `audio` file field, an empty file, a body that is not multipart/form-data
    413  an upload over max_upload_mb, or audio longer than max_seconds
    415  bytes that are not a readable audio file
    422  a transcript that does not fit the audio
    500  anything unexpected (logged with its traceback; the server keeps running)
    503  more than QUEUE_PER_WORKER uploads per worker already waiting (retry later); the
         bound keeps a burst of uploads from holding unbounded memory
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from importlib import resources
from multiprocessing import get_context
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from wise.align.asr import DEFAULT_RECOGNIZER
from wise.errors import WiseError
from wise.predict import MAX_SECONDS, Predictor
from wise.version import __version__

log = logging.getLogger("wise.serve")

MB = 1024 * 1024


QUEUE_PER_WORKER = 8
"""Uploads accepted per worker (running or waiting) before new ones get 503."""


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)


# ---------------------------------------------------------------- worker processes

_predictor: Predictor | None = None


def _init_worker(model: str, word_vectors: str | None, max_seconds: float, asr: str,
                 asr_model: str | None) -> None:
    import torch

    # Ctrl-C reaches the whole process group: the server shuts the pool down, workers must
    # not die mid-request with a KeyboardInterrupt of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    global _predictor
    _predictor = Predictor(model, word_vectors=word_vectors, max_seconds=max_seconds, asr=asr,
                           asr_model=asr_model)
    _predictor.warm_up()


def _ready() -> int:
    return os.getpid()


def _predict(data: bytes, text: str | None, name: str) -> tuple[int, dict]:
    """(HTTP status, JSON body) for one upload, in a worker. The stage that fails decides the
    status: decoding (413 too long, 415 unreadable, 400 readable but unusable) or prediction
    (422: the transcript does not fit the audio)."""
    p = _predictor
    t0 = time.perf_counter()
    try:
        x = p.read_audio(data, name=name)
    except WiseError as e:
        return _audio_status(data, p.max_seconds), {"error": e.line()}
    decode = time.perf_counter() - t0
    try:
        r = p.predict(x, text, sample_rate=p.features.sample_rate, name=name)
    except WiseError as e:
        return 422, {"error": e.line()}
    out = r.to_dict()
    # The array path did not count decoding the upload; "total" is the whole request.
    out["seconds"]["load"] = round(out["seconds"].get("load", 0.0) + decode, 4)
    out["seconds"]["total"] = round(time.perf_counter() - t0, 4)
    return 200, out


def _audio_status(data: bytes, max_seconds: float) -> int:
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return 415
    return 413 if info.frames > max_seconds * info.samplerate else 400


# ---------------------------------------------------------------- the server process


class _Pool:
    """The worker processes, replaced by a fresh pool if one of them dies."""

    def __init__(self, model: str, workers: int, word_vectors: str | None,
                 max_seconds: float, asr: str, asr_model: str | None):
        self.workers = workers
        self._initargs = (model, word_vectors, max_seconds, asr, asr_model)
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

    async def run(self, *args) -> tuple[int, dict]:
        executor = self.executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, _predict, *args)
        except BrokenProcessPool:
            if self.executor is executor:
                log.error("a prediction worker died; starting a new pool")
                executor.shutdown(wait=False, cancel_futures=True)
                self.executor = self._new()
            raise

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _error(status: int, message: str, *, close: bool = False) -> JSONResponse:
    headers = {"Connection": "close"} if close else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _Form:
    """The parts of a multipart/form-data body, in memory: {field name: (filename, bytes)}."""

    def __init__(self, boundary: bytes):
        self.parts: dict[str, tuple[str | None, bytearray]] = {}
        self._header = [bytearray(), bytearray()]
        self._headers: dict[bytes, bytes] = {}
        self._data: bytearray | None = None
        self.parser = MultipartParser(boundary, {
            "on_header_field": lambda d, a, b: self._header[0].extend(d[a:b]),
            "on_header_value": lambda d, a, b: self._header[1].extend(d[a:b]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda d, a, b: self._data.extend(d[a:b]),
        })

    def _header_end(self) -> None:
        self._headers[bytes(self._header[0]).lower()] = bytes(self._header[1])
        self._header = [bytearray(), bytearray()]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._headers = {}
        self._data = bytearray()
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name and name not in self.parts:  # a repeated field keeps its first value
            filename = options.get(b"filename")
            self.parts[name] = (None if filename is None
                                else filename.decode("utf-8", "replace"), self._data)


def create_app(model: str | Path, *, workers: int | None = None,
               max_upload_mb: float = 25.0, max_seconds: float = MAX_SECONDS,
               word_vectors: str | None = None,
               queue_per_worker: int = QUEUE_PER_WORKER, asr: str = DEFAULT_RECOGNIZER,
               asr_model: str | Path | None = None) -> FastAPI:
    """The service for one checkpoint. The checkpoint (and the recogniser's model folder) is
    checked here, so a bad one raises `WiseError` before a server is started; the worker pool
    starts with the app's lifespan."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise WiseError(None, "--workers must be at least 1")
    if not max_upload_mb > 0:
        raise WiseError(None, "--max-upload-mb must be positive")
    if not max_seconds > 0:
        raise WiseError(None, "--max-seconds must be positive")
    checked = Predictor(model, word_vectors=word_vectors, max_seconds=max_seconds, asr=asr,
                        asr_model=asr_model)
    if asr_model is not None:
        checked.warm_up()           # a model folder that does not load fails here, not in workers
    info = {"status": "ok", "model": checked.name, "labels": checked.labels,
            "asr": checked.asr_name, "workers": workers, "version": __version__,
            "limits": {"max_upload_mb": max_upload_mb, "max_seconds": max_seconds}}
    del checked
    limit = int(max_upload_mb * MB)
    too_large = f"upload is larger than the {max_upload_mb:g} MB limit"
    page = resources.files("wise").joinpath("web/index.html").read_text(encoding="utf-8")
    pool = _Pool(str(model), workers, word_vectors, max_seconds, asr,
                 None if asr_model is None else str(asr_model))
    busy = {"n": 0}                     # uploads being predicted or waiting for a worker

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.start()
        try:
            yield
        finally:
            pool.close()
            log.info("prediction workers stopped")

    app = FastAPI(title="WISE", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.add_middleware(_RequestLog)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health")
    async def health() -> dict:
        return info

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        kind, options = parse_options_header(request.headers.get("content-type"))
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            return _error(400, "send multipart/form-data with the recording in the file "
                               "field 'audio' (and optionally its transcript in 'text')")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return _error(413, too_large, close=True)
        form = _Form(boundary)
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    return _error(413, too_large, close=True)
                form.parser.write(chunk)
            form.parser.finalize()
        except MultipartParseError as e:
            return _error(400, f"malformed multipart body ({e})", close=True)
        except ClientDisconnect:
            return _error(400, "the client closed the connection during the upload")

        filename, audio = form.parts.get("audio", (None, None))
        if audio is None:
            return _error(400, "no audio: send the recording as the file field 'audio'")
        name = Path(filename or "upload").name or "upload"
        if not audio:
            return _error(400, f"{name}: audio is empty (zero bytes)")
        text = None
        if "text" in form.parts:
            try:
                text = bytes(form.parts["text"][1]).decode("utf-8").strip() or None
            except UnicodeDecodeError:
                return _error(400, "the transcript 'text' is not UTF-8 text")
        if busy["n"] >= queue_per_worker * workers:
            return _error(503, f"busy: {busy['n']} recordings are already waiting; "
                               "retry in a few seconds")
        busy["n"] += 1
        try:
            status, body = await pool.run(bytes(audio), text, name)
        except BrokenProcessPool:
            return _error(500, "the prediction worker stopped unexpectedly; please retry")
        except Exception as e:
            log.exception("prediction of %s failed", name)
            return _error(500, f"internal error while predicting ({type(e).__name__}); "
                               "the server log has the details")
        finally:
            busy["n"] -= 1
        return JSONResponse(body, status_code=status)

    return app


class _RequestLog:
    """One log line per request: method, path, status, milliseconds."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            log.info("%s %s %d %.0f ms", scope["method"], scope["path"], status,
                     1000 * (time.perf_counter() - t0))


def log_config() -> dict:
    """uvicorn's logging setup, with this module's request lines in place of its access log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    cfg = copy.deepcopy(LOGGING_CONFIG)
    cfg["loggers"]["wise"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return cfg


def serve(model: str | Path, *, host: str = "127.0.0.1", port: int = 8000,
          workers: int | None = None, max_upload_mb: float = 25.0,
          max_seconds: float = MAX_SECONDS, word_vectors: str | None = None,
          asr: str = DEFAULT_RECOGNIZER, asr_model: str | Path | None = None) -> None:
    """Load and check the checkpoint, start the workers, then serve until Ctrl-C."""
    import uvicorn

    app = create_app(model, workers=workers, max_upload_mb=max_upload_mb,
                     max_seconds=max_seconds, word_vectors=word_vectors, asr=asr,
                     asr_model=asr_model)
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=log_config(),
                timeout_graceful_shutdown=30)
