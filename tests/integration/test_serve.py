"""`wise serve` over real HTTP: uvicorn on a free localhost port, prediction worker processes,
the trained fixture checkpoint. Three servers per module: one with the default limits, one with
tiny limits for the 413 cases, and `wise serve` itself in a subprocess with a token, one
worker and short timeouts, for the attacks (slow clients, a killed worker)."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import numpy as np
import psutil
import pytest
import soundfile as sf

from wise import LABELS, __version__
from wise.predict import PredictOptions
from wise.testing import multipart_fuzz
from wise.testing.service import start_service, stop_service


@contextmanager
def running(app) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread; yields its base URL."""
    import uvicorn

    from wise.serve import server_config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


@pytest.fixture(scope="module")
def url(trained_model) -> Iterator[str]:
    from wise.serve import create_app

    with running(create_app(trained_model["model"], workers=2)) as base:
        yield base


@pytest.fixture(scope="module")
def strict_url(trained_model) -> Iterator[str]:
    from wise.serve import create_app

    app = create_app(trained_model["model"], options=PredictOptions(max_seconds=0.5), workers=1,
                     max_upload_mb=0.05)
    with running(app) as base:
        yield base


@pytest.fixture(scope="module")
def clip(trained_model) -> tuple[bytes, str]:
    row = next(r for r in trained_model["rows"] if r.words)
    return open(row.audio, "rb").read(), row.text


def wav_bytes(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def post(base: str, audio: bytes | None, text: str | None = None) -> httpx.Response:
    files = {}
    if audio is not None:
        files["audio"] = ("clip.wav", audio, "audio/wav")
    if text is not None:
        files["text"] = (None, text.encode())
    return httpx.post(f"{base}/predict", files=files, timeout=60)


def check_prediction(body: dict) -> None:
    assert body["status"] == "ok"
    assert body["label"] in LABELS
    assert set(body["probabilities"]) == set(LABELS)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert body["words"]
    assert sum(w["attention"] for w in body["words"]) == pytest.approx(1.0, abs=1e-3)
    for w in body["words"]:
        assert 0 <= w["start"] < w["end"] <= body["duration"] + 1e-3


def test_health(url):
    r = httpx.get(f"{url}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["workers"] == 2
    assert body["labels"] == list(LABELS)
    assert body["model"] == "wise" and body["version"] == __version__
    assert body["asr"].startswith("Whisper tiny.en")


def test_health_says_which_model_answers_and_offers_the_examples(url, trained_model):
    from wise.pretrained import example_clips

    body = httpx.get(f"{url}/health").json()
    assert body["checkpoint"] == str(trained_model["model"]) and body["licence"] is None
    assert str(trained_model["model"]) in body["description"]
    clips = {e.path.name: e for e in example_clips()}
    assert {e["name"]: e["label"] for e in body["examples"]} == {
        n: e.label for n, e in clips.items()}
    name = sorted(clips)[0]
    r = httpx.get(f"{url}/examples/{name}")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/flac"
    assert r.content == clips[name].path.read_bytes()
    r = httpx.get(f"{url}/examples/nope.flac")
    assert r.status_code == 404 and "no example clip" in r.json()["error"]
    for sneaky in ("..%2Fwise_whisper-ravdess.wise", "..%2F..%2Fserve.py"):
        assert httpx.get(f"{url}/examples/{sneaky}").status_code == 404


def test_a_bad_asr_model_folder_fails_before_serving(trained_model, tmp_path):
    from wise.errors import WiseError
    from wise.serve import create_app

    with pytest.raises(WiseError, match="not a CTranslate2 Whisper model folder"):
        create_app(trained_model["model"], options=PredictOptions(asr_model=tmp_path))
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(WiseError, match="not a usable CTranslate2 Whisper model"):
        create_app(trained_model["model"], options=PredictOptions(asr_model=tmp_path))


def test_predict_with_transcript(url, clip):
    audio, text = clip
    r = post(url, audio, text)
    assert r.status_code == 200, r.text
    body = r.json()
    check_prediction(body)
    assert body["transcript_source"] == "given"
    assert body["file"] == "clip.wav"


def test_predict_with_asr(url, clip):
    r = post(url, clip[0])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript_source"] in ("asr", "none")
    if body["status"] == "ok":
        check_prediction(body)
        assert body["transcript_source"] == "asr" and 0 <= body["asr_confidence"] <= 1


def test_empty_transcript_means_asr(url, clip):
    r = post(url, clip[0], "   ")
    assert r.status_code == 200
    assert r.json()["transcript_source"] != "given"


def test_silence_is_no_speech(url):
    r = post(url, wav_bytes(np.zeros(16000, np.float32), 16000), "hello there")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "no_speech" and body["label"] is None and body["message"]


def test_corrupt_audio(url):
    r = post(url, b"RIFF\x10\x00\x00\x00WAVEjunkjunk" * 10)
    assert r.status_code == 415
    assert "not a readable audio file" in r.json()["error"]


def test_empty_file(url):
    r = post(url, b"")
    assert r.status_code == 400
    assert "empty" in r.json()["error"]


def test_missing_audio_field(url):
    r = post(url, None, "hello")
    assert r.status_code == 400
    assert "'audio'" in r.json()["error"]


def test_not_multipart(url):
    r = httpx.post(f"{url}/predict", json={"audio": "x"})
    assert r.status_code == 400
    assert "multipart/form-data" in r.json()["error"]


def test_transcript_not_matching(url):
    audio = wav_bytes(0.2 * np.sin(np.arange(4000) / 5).astype(np.float32), 16000)
    words = " ".join(["extraordinarily", "complicated", "sentence"] * 12)
    r = post(url, audio, words)
    assert r.status_code == 422
    assert r.json()["error"].startswith("clip.wav: ")


def test_unknown_path_is_json(url):
    r = httpx.get(f"{url}/nothing-here")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}


def test_concurrent_requests(url, clip):
    audio, text = clip
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: post(url, audio, text), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    labels = {r.json()["label"] for r in responses}
    assert len(labels) == 1  # the same input gives the same answer in every worker


def test_web_page(url):
    r = httpx.get(f"{url}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for hook in ('id="audio-file"', 'id="text"', 'id="submit"', 'id="error"', 'id="label"'):
        assert hook in r.text
    assert "http://" not in r.text and "https://" not in r.text  # nothing from the network


def test_upload_too_large(strict_url):
    r = post(strict_url, b"\0" * 100_000)
    assert r.status_code == 413
    assert "0.05 MB limit" in r.json()["error"]


def test_upload_too_large_without_length(strict_url):
    """A chunked body has no Content-Length: the limit is enforced while reading."""
    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
        for _ in range(20):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    r = httpx.post(f"{strict_url}/predict", content=body(),
                   headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413


def test_audio_too_long(strict_url):
    r = post(strict_url, wav_bytes(np.zeros(8000, np.float32), 8000))
    assert r.status_code == 413
    error = r.json()["error"]
    assert "1.0 s long" in error and "limit is 0.5 s" in error


def test_bad_checkpoint_exits_with_one_line(tmp_path):
    bad = tmp_path / "bad.wise"
    bad.write_bytes(b"not a checkpoint at all")
    r = subprocess.run([sys.executable, "-m", "wise.cli", "serve", str(bad), "--port", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wise: error: {bad}: "), r.stderr
    assert "Traceback" not in r.stderr


def test_a_full_queue_answers_503_and_recovers(trained_model, clip):
    from wise.serve import create_app

    audio, _ = clip
    app = create_app(trained_model["model"], workers=1, queue_per_worker=1)
    with running(app) as base, ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: post(base, audio), range(4)))   # ASR: ~1 s each
        codes = sorted(r.status_code for r in responses)
        assert codes[0] == 200 and codes[-1] == 503
        busy = next(r for r in responses if r.status_code == 503)
        assert "busy" in busy.json()["error"]
        assert post(base, audio).status_code == 200      # the queue drains: served again


# ---------------------------------------------------------------- under attack

TOKEN = "soak-and-fuzz-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded(trained_model, tmp_path_factory) -> Iterator[dict]:
    """`wise serve` itself: its token from WISE_TOKEN, one worker, a request must arrive
    within 3 s with no pause over 1 s. {"url", "pid", "log"}."""
    log = tmp_path_factory.mktemp("guarded") / "server.log"
    proc, url = start_service([str(trained_model["model"]), "--workers", "1",
                               "--read-timeout", "3", "--idle-timeout", "1"], log, token=TOKEN)
    try:
        yield {"url": url, "pid": proc.pid, "log": log}
    finally:
        stop_service(proc)


def one_line_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    return body["error"]


def test_a_token_is_required_except_for_the_page(guarded, clip):
    url = guarded["url"]
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
        r = httpx.get(f"{url}/health", headers=headers)
        assert "Authorization: Bearer" in one_line_error(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{url}/health", headers={"Authorization": f"bearer {TOKEN}"}).json()[
        "limits"]["read_timeout"] == 3
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "#token=" in page.text
    audio, text = clip
    files = {"audio": ("clip.wav", audio), "text": (None, text.encode())}
    one_line_error(httpx.post(f"{url}/predict", files=files), 401)
    one_line_error(httpx.get(f"{url}/nothing-here"), 401)     # no probing past the token
    r = httpx.post(f"{url}/predict", files=files, headers=AUTH, timeout=60)
    assert r.status_code == 200 and r.json()["label"] in LABELS


@pytest.mark.parametrize("argv, says", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0 takes requests from other machines"),
    (["--host", "192.0.2.1"], "give a token (--token, or the WISE_TOKEN"),
    (["--token", "short"], "a token is 16 or more of"),
])
def test_serving_beyond_this_machine_needs_a_token(tmp_path, monkeypatch, capsys, argv, says):
    """`wise serve` refuses before the checkpoint is even read, so before anything is bound."""
    from wise.cli import main

    monkeypatch.delenv("WISE_TOKEN", raising=False)
    missing = tmp_path / "missing.wise"
    assert main(["serve", str(missing), *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wise: error: ") and says in lines[0]
    assert str(missing) not in lines[0]


def raw_request(port: int, head: bytes, body: bytes = b"", *, trickle: float | None = None,
                limit: float = 15.0) -> tuple[bytes, float]:
    """Sends `head` at once, then `body` (a byte every `trickle` seconds, or at once), then
    nothing more, on a raw connection, and reads until the server closes; returns (what came
    back, seconds since connecting). Bounded by `limit`."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
        t0 = time.monotonic()
        s.sendall(head)
        if trickle is None:
            s.sendall(body)
        else:
            s.settimeout(trickle)
            for i in range(len(body)):
                try:
                    s.send(body[i:i + 1])
                    got += s.recv(65536)     # a closed or answering server ends the trickle
                    break
                except TimeoutError:
                    pass
                except OSError:              # reset or broken pipe: cut off
                    break
                assert time.monotonic() - t0 < limit, "the server kept taking a trickle"
        s.settimeout(max(0.1, limit - (time.monotonic() - t0)))
        try:
            while chunk := s.recv(65536):
                got += chunk
        except OSError:
            pass
        return got, time.monotonic() - t0


def test_slow_clients_are_cut_off_and_hold_no_worker(guarded, clip):
    port = int(guarded["url"].rsplit(":", 1)[1])
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\n" + auth
            + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n")
    part = b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
    attacks = {
        "headers trickled": lambda: raw_request(port, b"", head, trickle=0.25),
        "body trickled": lambda: raw_request(port, head, part + b"x" * 4000, trickle=0.25),
        "body stalls": lambda: raw_request(port, head, part + b"x" * 100),
        "silent": lambda: raw_request(port, b""),
    }
    audio, text = clip
    with ThreadPoolExecutor(len(attacks)) as pool:
        running_attacks = {name: pool.submit(f) for name, f in attacks.items()}
        time.sleep(0.5)
        # The only worker is free while four clients hold connections.
        r = httpx.post(f"{guarded['url']}/predict", headers=AUTH, timeout=60,
                       files={"audio": ("clip.wav", audio), "text": (None, text.encode())})
        assert r.status_code == 200
        results = {name: f.result() for name, f in running_attacks.items()}
    for name, (answer, seconds) in results.items():
        assert seconds < 10, name
        if name == "silent":
            assert answer == b"", answer          # nothing was asked: closed, no answer
        else:
            assert answer.startswith(b"HTTP/1.1 408 "), (name, answer)
            assert b'{"error": "' in answer and b"within 3 s" in answer
    assert results["headers trickled"][1] >= 2.5      # the read deadline, not the idle one
    assert "(408)" in guarded["log"].read_text()


def test_a_killed_worker_is_replaced(guarded, clip):
    """SIGKILL the only worker mid-prediction: that request gets a one-line 503 (retry), a
    new pool takes over, and the next upload is answered."""
    server = psutil.Process(guarded["pid"])

    def workers() -> list[psutil.Process]:
        return [p for p in server.children(recursive=True)
                if "spawn_main" in " ".join(p.cmdline())]

    (worker,) = workers()
    audio, text = clip
    x, sr = sf.read(io.BytesIO(audio), dtype="float32")
    long_clip = wav_bytes(np.tile(x, int(np.ceil(30 * sr / len(x))))[:30 * sr], sr)
    cpu0 = sum(worker.cpu_times()[:2])
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(httpx.post, f"{guarded['url']}/predict", headers=AUTH,
                                files={"audio": ("long.wav", long_clip)}, timeout=120)
        deadline = time.monotonic() + 60
        while sum(worker.cpu_times()[:2]) - cpu0 < 0.3:    # the worker is on it
            assert time.monotonic() < deadline and not in_flight.done()
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        r = in_flight.result()
    assert "retry" in one_line_error(r, 503)
    assert r.headers["retry-after"] == "5"
    r = httpx.post(f"{guarded['url']}/predict", headers=AUTH, timeout=120,
                   files={"audio": ("clip.wav", audio), "text": (None, text.encode())})
    assert r.status_code == 200 and r.json()["label"] in LABELS
    (new,) = workers()
    assert new.pid != worker.pid
    assert "a prediction worker died; starting a new pool" in guarded["log"].read_text()


def test_a_header_that_declares_hours_is_refused_before_decoding(url):
    r = post(url, multipart_fuzz.lying_wav(3 * 3600.0))
    error = one_line_error(r, 413)
    assert "10800.0 s long (from its header)" in error and "limit is 60 s" in error


def test_a_cut_short_upload_is_refused(url, clip):
    error = one_line_error(post(url, clip[0][:len(clip[0]) // 2]), 400)
    assert error.startswith("clip.wav: the file is cut short or its header is wrong")


def test_the_header_is_judged_before_the_upload_is_read(url):
    """The Content-Length promises 2 MB, only the header and 64 KB are sent: the answer comes
    anyway, so the server refused from the header, before reading (let alone decoding) the
    rest."""
    port = int(url.rsplit(":", 1)[1])
    start = (b'--b\r\nContent-Disposition: form-data; name="audio"; filename="long.wav"\r\n\r\n'
             + multipart_fuzz.lying_wav(7200.0, present=65536))
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: %d\r\n\r\n" % (2 * 1024 * 1024))
    answer, _ = raw_request(port, head, start)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"7200.0 s long (from its header)" in answer


def test_an_early_refusal_reaches_a_client_that_reads_late(url):
    """The server refuses from the header in the first chunk and stops reading. Closing then,
    with the rest of the upload unread, makes the kernel reset the connection, and a client
    that reads its answer only after sending everything finds it destroyed; the server
    therefore ends its side and drains the rest first."""
    port = int(url.rsplit(":", 1)[1])
    start = (b'--b\r\nContent-Disposition: form-data; name="audio"; filename="long.wav"\r\n\r\n'
             + multipart_fuzz.lying_wav(7200.0, present=400_000))
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: %d\r\n\r\n" % len(start))
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(head + start)
            time.sleep(0.5)                 # the answer, and any reset, arrive meanwhile
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413 ") and b"7200.0 s long" in answer


def test_fuzzed_multipart_uploads_get_a_prediction_or_a_one_line_4xx(url, trained_model):
    """Hypothesis: random and mutated multipart bodies (wise.testing.multipart_fuzz);
    WISE_FUZZ_EXAMPLES sets how many (deterministic: derandomized, no example database)."""
    clips = [open(r.audio, "rb").read() for r in trained_model["rows"][:3]]
    examples = int(os.environ.get("WISE_FUZZ_EXAMPLES", "40"))
    tally = multipart_fuzz.run(url, clips, examples)
    print(f"multipart fuzz: {sum(tally.values())} cases, {dict(sorted(tally.items()))}")
    assert sum(tally.values()) == examples
    assert tally["400"] and any(k.startswith("200") for k in tally)
