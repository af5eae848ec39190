"""`wise serve`: an HTTP service and a web page for one checkpoint (the bundled real-speech model
when none is given), with the bundled example clips to try it on.

A prediction is CPU-bound (ASR, forced alignment, MFCC, the model) and `Predictor` serialises
its aligner and recogniser on a lock, so threads would take turns. Predictions therefore run in
a pool of `workers` processes (spawned, so no process inherits torch's state from the server);
each loads its own `Predictor` once and uses one torch thread, and concurrent requests are
served in parallel, one per process. The event loop only reads uploads and hands their bytes to
the pool: audio is decoded in memory and nothing is written to disk.

The app and the HTTP protocol are here; the worker pool is `wise.serve.pool`, what an
upload is checked against before a worker sees it is `wise.serve.uploads`, and the live
sessions and the named speakers that adapt across requests are `wise.serve.live`.

The checkpoint is loaded and checked in the server process before anything listens, so a bad
checkpoint ends `wise serve` with one error line. Uploads are bounded while they are read
(Content-Length first, then a running count), a request must arrive within `read_timeout`
seconds with no pause over `idle_timeout` (a client that trickles bytes is cut off, and never
holds a worker), and a WAV or FLAC header is checked in the server before any worker decodes
it. Every expected fault is answered as JSON `{"error": "<one line>"}` with a 4xx status:

    400  no `audio` file field, an empty file, a body that is not multipart/form-data, a WAV
         whose header declares more audio data than the upload holds (cut short or lying)
    401  a server with a token, and a request (other than the page) without it
    404  an example clip or a live session that does not exist (or was dropped when idle)
    408  a request not received within read_timeout, or a pause over idle_timeout
    413  an upload over max_upload_mb, or audio longer than max_seconds (from the header alone
         where it says)
    415  bytes that are not a readable audio file
    422  a transcript that does not fit the audio
    500  anything unexpected (logged with its traceback; the server keeps running)
    503  more than QUEUE_PER_WORKER uploads per worker already waiting (retry later), which
         keeps a burst of uploads from holding unbounded memory; or a worker process died
         during the prediction (a new pool replaces it: retry)
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import re
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import h11
import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from wise.errors import WiseError
from wise.predict import PredictOptions, Predictor
from wise.pretrained import LICENCE_LINE, example_clips
from wise.serve.live import (
    LIVE_LIMITS,
    MAX_CHUNK_S,
    SPEAKER_ID,
    LiveLimits,
    LiveSessions,
    Session,
    Speakers,
)
from wise.serve.pool import Pool
from wise.serve.uploads import Form, declared_audio, header_refusal, upload_name
from wise.version import __version__

log = logging.getLogger("wise.serve")

MB = 1024 * 1024


QUEUE_PER_WORKER = 8
"""Uploads accepted per worker (running or waiting) before new ones get 503."""

READ_TIMEOUT = 60.0
"""Seconds a client has to send a whole request, headers and body (25 MB at 3.5 Mbit/s)."""

IDLE_TIMEOUT = 10.0
"""Seconds a client may pause while sending a request (or before its first byte)."""

TOKEN_ENV = "WISE_TOKEN"
# RFC 6750's b64token: what fits in `Authorization: Bearer ...` as it is.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_MIN_TOKEN = 16


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)


def _error(status: int, message: str, *, close: bool = False,
           retry_after: int | None = None) -> JSONResponse:
    headers = {}
    if close:       # the client may still be sending a body nobody will read
        headers["Connection"] = "close"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def check_token(token: str) -> None:
    """Raises `WiseError` for a token that is too short to guess-proof or that does not fit an
    Authorization header as it is."""
    if len(token) < _MIN_TOKEN or not _TOKEN_CHARS.fullmatch(token):
        raise WiseError(None, f"a token is {_MIN_TOKEN} or more of A-Z a-z 0-9 - . _ ~ + / "
                              "(then any '='), e.g. from: python -c \"import secrets; "
                              "print(secrets.token_urlsafe(32))\"")


def is_loopback(host: str) -> bool:
    """Whether `host` takes connections from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(model: str | Path | None = None, *,
               options: PredictOptions | None = None, workers: int | None = None,
               max_upload_mb: float = 25.0, queue_per_worker: int = QUEUE_PER_WORKER,
               token: str | None = None, read_timeout: float = READ_TIMEOUT,
               idle_timeout: float = IDLE_TIMEOUT,
               live_limits: LiveLimits = LIVE_LIMITS) -> FastAPI:
    """The service for one checkpoint (None: the bundled model). The checkpoint (and the
    recogniser's model folder) is checked here, so a bad one raises `WiseError` before a
    server is started; the worker pool starts with the app's lifespan, each worker with a
    `Predictor` of `options`. With a `token`, every
    request but the page's must carry `Authorization: Bearer <token>`. The timeouts are kept
    for `server_config`, which gives them to the HTTP protocol."""
    options = options or PredictOptions()
    workers = default_workers() if workers is None else workers
    max_seconds = options.max_seconds
    if workers < 1:
        raise WiseError(None, "--workers must be at least 1")
    for option, value in (("--max-upload-mb", max_upload_mb), ("--max-seconds", max_seconds),
                          ("--read-timeout", read_timeout), ("--idle-timeout", idle_timeout)):
        if not value > 0:
            raise WiseError(None, f"{option} must be positive")
    if token is not None:
        check_token(token)
    checked = Predictor(model, options)
    if options.asr_model is not None:
        checked.warm_up()           # a model folder that does not load fails here, not in workers
    # The bundled examples are voices the bundled model never heard: offered with any model.
    examples = {e.path.name: e for e in example_clips()}
    info = {"status": "ok", "model": checked.name, "checkpoint": checked.checkpoint,
            "description": checked.description, "labels": checked.labels,
            "licence": LICENCE_LINE if checked.bundled else None,
            "asr": checked.asr_name, "workers": workers, "version": __version__,
            "limits": {"max_upload_mb": max_upload_mb, "max_seconds": max_seconds,
                       "read_timeout": read_timeout, "idle_timeout": idle_timeout},
            "examples": [{"name": n, "actor": e.actor, "gender": e.gender, "label": e.label,
                          "label_name": e.label_name} for n, e in examples.items()]}
    model = checked.path
    sample_rate = checked.features.sample_rate
    adapts = checked.adapts
    del checked
    limit = int(max_upload_mb * MB)
    too_large = f"upload is larger than the {max_upload_mb:g} MB limit"
    page = resources.files("wise").joinpath("web/index.html").read_text(encoding="utf-8")
    pool = Pool(model, workers, options)
    busy = {"n": 0}                     # uploads being predicted or waiting for a worker
    live = LiveSessions(pool, sample_rate, live_limits, adapts=adapts)
    speakers = Speakers()
    info["limits"]["live"] = live.limits
    chunk_limit = int(MAX_CHUNK_S * sample_rate) * 4

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.start()
        reaper = asyncio.create_task(live.reap())
        try:
            yield
        finally:
            reaper.cancel()
            pool.close()
            log.info("prediction workers stopped")

    app = FastAPI(title="WISE", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.timeouts = (read_timeout, idle_timeout)
    app.state.info = info
    if token is not None:
        app.add_middleware(_TokenCheck, token=token)
    app.add_middleware(_RequestLog)       # added last, so outermost: it logs the 401s too

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health")
    async def health() -> dict:
        return {**info, "live_sessions": len(live)}

    @app.get("/examples/{name}")
    async def example(name: str) -> Response:
        if name not in examples:
            return _error(404, f"no example clip named {name!r} (GET /health lists them)")
        return Response(examples[name].path.read_bytes(), media_type="audio/flac")

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
        form = Form(boundary)
        received = 0
        header_checked = False
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    return _error(413, too_large, close=True)
                form.parser.write(chunk)
                # A header that declares too much audio is refused as soon as it has arrived,
                # before the rest of the upload is read.
                if not header_checked and "audio" in form.parts:
                    filename, head = form.parts["audio"]
                    header_checked = declared_audio(head) is not None
                    refusal = header_refusal(head, upload_name(filename), max_seconds,
                                             complete=False)
                    if refusal:
                        return _error(*refusal, close=True)
            form.parser.finalize()
        except MultipartParseError as e:
            return _error(400, f"malformed multipart body ({e})", close=True)
        except ClientDisconnect:
            return _error(400, "the client closed the connection during the upload")

        filename, audio = form.parts.get("audio", (None, None))
        if audio is None:
            return _error(400, "no audio: send the recording as the file field 'audio'")
        name = upload_name(filename)
        if not audio:
            return _error(400, f"{name}: audio is empty (zero bytes)")
        refusal = header_refusal(audio, name, max_seconds, complete=True)
        if refusal:
            return _error(*refusal)
        text = None
        if "text" in form.parts:
            try:
                text = bytes(form.parts["text"][1]).decode("utf-8").strip() or None
            except UnicodeDecodeError:
                return _error(400, "the transcript 'text' is not UTF-8 text")
        speaker = None
        if "speaker" in form.parts:
            speaker = bytes(form.parts["speaker"][1]).decode("latin-1").strip()
            if not SPEAKER_ID.fullmatch(speaker):
                return _error(400, "'speaker' names a speaker in 1 to 64 letters, digits, "
                                   "dots, dashes or underscores")
        if busy["n"] >= queue_per_worker * workers:
            return _error(503, f"busy: {busy['n']} recordings are already waiting; "
                               "retry in a few seconds", retry_after=5)
        busy["n"] += 1
        try:
            if speaker is None or not adapts:
                status, body, _ = await pool.run(bytes(audio), text, name)
                clips = 0
            else:
                async with speakers.lock(speaker):
                    status, body, heard = await pool.run(bytes(audio), text, name,
                                                         speakers.stats(speaker))
                    speakers.update(speaker, heard)
                clips = heard.clips
            if speaker is not None and status == 200:
                body.update(speaker=speaker, adapted_on=clips)
        except BrokenProcessPool:
            return _worker_stopped()
        except Exception as e:
            log.exception("prediction of %s failed", name)
            return _error(500, f"internal error while predicting ({type(e).__name__}); "
                               "the server log has the details")
        finally:
            busy["n"] -= 1
        return JSONResponse(body, status_code=status)

    @app.post("/live")
    async def live_open() -> JSONResponse:
        if not live.max_sessions:
            return _error(404, "live mode is off on this server (--live-sessions 0)")
        s = live.open()
        if s is None:
            return _error(503, f"busy: {live.max_sessions} live sessions are open; retry "
                               "in a few seconds", retry_after=5)
        return JSONResponse({"session": s.id, "sample_rate": sample_rate,
                             "format": "float32le", **live.limits})

    @app.post("/live/{sid}")
    async def live_chunk(sid: str, request: Request) -> JSONResponse:
        s = live.get(sid)
        if s is None:
            return _no_session(live)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > chunk_limit:
                    return _error(413, f"a live chunk holds at most {MAX_CHUNK_S:g} s of "
                                       "audio", close=True)
        except ClientDisconnect:
            return _error(400, "the client closed the connection during the chunk")
        if len(body) % 4:
            return _error(400, "a live chunk is float32 samples: its length must be a "
                               "multiple of 4 bytes")
        x = np.frombuffer(bytes(body), "<f4")
        if not np.isfinite(x).all():
            return _error(400, "the live chunk holds NaN or infinite samples")
        if (s.cut.heard + len(x)) / sample_rate > live.max_seconds:
            live.close(sid)
            return _error(413, f"the live session reached its limit of "
                               f"{live.max_seconds:g} s of audio and is closed")
        return await _live_items(s, x)

    @app.delete("/live/{sid}")
    async def live_end(sid: str) -> JSONResponse:
        s = live.get(sid)
        if s is None:
            return _no_session(live)
        try:
            return await _live_items(s, None)
        finally:
            live.close(sid)

    async def _live_items(s: Session, x: np.ndarray | None) -> JSONResponse:
        try:
            async with s.lock:
                items = await live.hear(s, x)
        except BrokenProcessPool:
            return _worker_stopped()
        except Exception as e:
            log.exception("live session %s failed", s.id)
            return _error(500, f"internal error in the live session ({type(e).__name__}); "
                               "the server log has the details")
        return JSONResponse({"items": items, "heard": round(s.cut.heard / sample_rate, 3)})

    return app


def _worker_stopped() -> JSONResponse:
    return _error(503, "the prediction worker stopped unexpectedly; a new one is starting: "
                       "retry in a few seconds", retry_after=5)


def _no_session(live: LiveSessions) -> JSONResponse:
    return _error(404, f"no such live session (it ended, or sent nothing for {live.idle_s:g} "
                       "s): open a new one")


class _TokenCheck:
    """Refuses (401) every request without `Authorization: Bearer <token>`, except GET / (the
    page: it holds no data, and a browser cannot add the header when it opens a page; the page
    sends the token itself on every request it makes)."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or (scope["path"] == "/"
                                       and scope["method"] in ("GET", "HEAD")):
            return await self.app(scope, receive, send)
        scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
        # compare_digest: the time taken does not tell how much of a guess was right.
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token):
            return await self.app(scope, receive, send)
        response = _error(401, "this server needs its token: send the header 'Authorization: "
                               "Bearer <token>' (the web page: open it as /#token=<token>)",
                          close=True)       # an upload's body is not read
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


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
    # python-multipart logs each malformed body, which the client is already told about.
    cfg["loggers"]["python_multipart"] = {"level": "ERROR"}
    return cfg


LINGER_SECONDS = 5.0
"""How long a connection closed before its request's body arrived keeps reading (and dropping)
what the client still sends, so the client reads the answer instead of a reset."""


class _Lingering:
    """A connection's transport whose `close()`, while the client is still sending a body that
    nobody will read (an early 401, 408, 413 or 400), first ends our side (the client sees the
    whole answer and then end of stream) and keeps reading for up to LINGER_SECONDS. Closing a
    socket with unread bytes makes the kernel send a reset, which can destroy the answer before
    the client reads it (nginx's lingering_close)."""

    def __init__(self, transport: asyncio.Transport, protocol: _TimedH11):
        self._transport = transport
        self._protocol = protocol
        self.lingering = False

    def __getattr__(self, name: str):
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def close(self) -> None:
        t = self._transport
        if self.lingering or t.is_closing():
            return
        if self._protocol.conn.their_state is not h11.SEND_BODY or not t.can_write_eof():
            t.close()
            return
        self.lingering = True
        t.write_eof()
        t.resume_reading()
        self._protocol.loop.call_later(LINGER_SECONDS, t.close)


class _TimedH11(H11Protocol):
    """uvicorn's HTTP/1.1 connection with deadlines on receiving a request: uvicorn waits as
    long as a client likes for the headers, and the app for the body, so a client that
    trickles bytes (or connects and sends nothing) would hold its connection for ever.

    A request, from the connection's start or the previous response to its last body byte,
    must arrive within `read_timeout` seconds, with no pause longer than `idle_timeout`;
    otherwise the client gets a 408 (if no response has begun) and the connection is closed.
    While the app works on a request that has fully arrived, no deadline runs. One timer per
    connection, moved only when it fires, so a chunk of data costs one clock read."""

    read_timeout = READ_TIMEOUT
    idle_timeout = IDLE_TIMEOUT

    def connection_made(self, transport) -> None:
        super().connection_made(_Lingering(transport, self))
        self._timer: asyncio.TimerHandle | None = None
        self._begin_request()

    def data_received(self, data: bytes) -> None:
        if self.transport.lingering:          # the rest of a body nobody reads: dropped
            return
        self._last = self.loop.time()
        self._quiet = False
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._begin_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().connection_lost(exc)

    def _begin_request(self) -> None:
        self._since = self._last = self.loop.time()
        self._quiet = True
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        when = min(self._since + self.read_timeout, self._last + self.idle_timeout)
        self._timer = self.loop.call_at(when, self._check)

    def _check(self) -> None:
        self._timer = None
        # IDLE: waiting for a request line; SEND_BODY: its body. Any other state: the request
        # is in (or the connection is done), and the next response restarts the clock.
        if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE,
                                                                       h11.SEND_BODY):
            return
        now = self.loop.time()
        if now >= self._since + self.read_timeout:
            why = f"the request did not arrive within {self.read_timeout:g} s"
        elif now >= self._last + self.idle_timeout:
            why = f"the client sent nothing for {self.idle_timeout:g} s"
        else:
            return self._arm()
        if self.conn.their_state is h11.IDLE and self._quiet:
            # Not a byte of a request: nothing to answer (uvicorn's shorter keep-alive timeout
            # usually closes such a connection first, after a response).
            self.transport.close()
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("closed the connection from %s: %s (408)", client, why)
        if self.cycle is None or not self.cycle.response_started:
            body = json.dumps({"error": f"{why}: a request must arrive within "
                                        f"{self.read_timeout:g} s, with no pause over "
                                        f"{self.idle_timeout:g} s"}).encode()
            # Written as it is: h11 cannot start a response to a request it has not parsed.
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\n"
                                 b"content-type: application/json\r\nconnection: close\r\n"
                                 b"content-length: %d\r\n\r\n%s" % (len(body), body))
        self.transport.close()


def server_config(app: FastAPI, **kwargs) -> uvicorn.Config:
    """uvicorn's configuration for `app` (from `create_app`): its own request log, and HTTP
    connections with the app's read and idle timeouts. `kwargs` go to `uvicorn.Config`."""
    read, idle = app.state.timeouts
    protocol = type("WiseH11", (_TimedH11,), {"read_timeout": read, "idle_timeout": idle})
    return uvicorn.Config(app, http=protocol, access_log=False, **kwargs)


def serve(model: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          options: PredictOptions | None = None, workers: int | None = None,
          max_upload_mb: float = 25.0, token: str | None = None,
          read_timeout: float = READ_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
          live_limits: LiveLimits = LIVE_LIMITS) -> None:
    """Load and check the checkpoint, start the workers, then serve until Ctrl-C. A `host`
    that other machines can reach needs a `token`: this is checked first, before anything
    is loaded or bound."""
    if token is None and not is_loopback(host):
        raise WiseError(None, f"--host {host} takes requests from other machines: give a token "
                              f"(--token, or the {TOKEN_ENV} environment variable), or serve on "
                              "127.0.0.1 behind a reverse proxy (docs/serving.md)")
    app = create_app(model, options=options, workers=workers, max_upload_mb=max_upload_mb,
                     token=token, read_timeout=read_timeout, idle_timeout=idle_timeout,
                     live_limits=live_limits)
    info = app.state.info
    print(f"wise serve: {info['description']} answers", flush=True)
    if info["licence"]:
        print(info["licence"], flush=True)
    server = uvicorn.Server(server_config(app, host=host, port=port, log_config=log_config(),
                                          timeout_graceful_shutdown=30))
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it has already handled (requests finished, workers
        # stopped): this is the normal way to stop the server.
        pass
    if not server.started:
        raise WiseError(None, f"could not serve on {host}:{port} (the lines above say why)")
