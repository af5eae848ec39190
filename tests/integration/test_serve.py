"""`wise serve` over real HTTP: uvicorn on a free localhost port, prediction worker processes,
the trained fixture checkpoint. Two servers per module: one with the default limits, one with
tiny limits for the 413 cases."""

from __future__ import annotations

import io
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
import pytest
import soundfile as sf

from wise import LABELS, __version__


@contextmanager
def running(app) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
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

    app = create_app(trained_model["model"], workers=1, max_upload_mb=0.05, max_seconds=0.5)
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


def test_a_bad_asr_model_folder_fails_before_serving(trained_model, tmp_path):
    from wise.errors import WiseError
    from wise.serve import create_app

    with pytest.raises(WiseError, match="not a CTranslate2 Whisper model folder"):
        create_app(trained_model["model"], asr_model=tmp_path)
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(WiseError, match="not a usable CTranslate2 Whisper model"):
        create_app(trained_model["model"], asr_model=tmp_path)


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
