"""`wise serve`'s live mode over HTTP: a recording posted a quarter second at a time comes back as
phrases soon after each utterance ends, adapted as the speaker goes on; chunks that are not
audio, unknown or idle sessions and too many sessions each get one clear answer, and a
session that stops sending is dropped with what it held."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from wise.audio import stream_audio
from wise.testing.recordings import join_clips
from wise.testing.service import start_service, stop_service
from wise.timeline import TimelineOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ravdess" / "Actor_10"
SR = 16000
TOKEN = "live-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    """The bundled model behind `wise serve`, one worker, two live sessions at most, a
    session dropped after 3 s without a chunk."""
    log = tmp_path_factory.mktemp("live") / "server.log"
    proc, url = start_service(["--workers", "1", "--live-sessions", "2", "--live-idle", "3"],
                              log, token=TOKEN)
    try:
        yield url
    finally:
        stop_service(proc)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[np.ndarray, list[tuple[float, float]]]:
    path = tmp_path_factory.mktemp("rec") / "joined.flac"
    placed = join_clips(sorted(FIXTURES.glob("*.flac"))[:3], path, gaps_s=(1.5, 2.5))
    return np.concatenate(list(stream_audio(path, SR))), [(p.start, p.end) for p in placed]


def post(url: str, body: bytes = b"", **kw) -> httpx.Response:
    return httpx.post(url, content=body, headers=AUTH, timeout=60, **kw)


def test_phrases_come_back_as_the_speaker_goes_on(service, recording):
    x, extents = recording
    opened = post(f"{service}/live").json()
    assert opened["sample_rate"] == SR and opened["format"] == "float32le"
    at = f"{service}/live/{opened['session']}"
    items, arrived = [], []
    step = SR // 4
    for i in range(0, len(x), step):
        r = post(at, x[i:i + step].astype("<f4").tobytes())
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        arrived += [(i + step) / SR] * len(r.json()["items"])
    end = httpx.delete(at, headers=AUTH, timeout=60).json()
    items += end["items"]
    assert end["heard"] == pytest.approx(len(x) / SR, abs=1e-3)
    phrases = [i for i in items if i["kind"] == "phrase"]
    assert len(phrases) == len(extents)
    for p, (a, b) in zip(phrases, extents, strict=True):
        assert a - 1.1 <= p["start"] < p["end"] <= b + 1.1
        assert "by the door" in p["transcript"] and p["label"] in ("ang", "hap", "neu", "sad")
    assert [p["adapted_on"] for p in phrases] == [1, 2, 3]
    assert items[0]["start"] == 0 and items[-1]["end"] == pytest.approx(len(x) / SR, abs=1e-3)
    assert all(a["end"] == b["start"] for a, b in zip(items, items[1:], strict=False))
    # Every phrase but the last came back with the chunk that completed it: once the VAD
    # had heard the pause after its speech. Its end is what had been heard then, less the
    # shortest speech (which might have begun since); the padding still to come was filled
    # with silence. So the answer came with the next quarter second at the latest.
    o = TimelineOptions()
    for p, t in zip(items, arrived, strict=False):
        if p["kind"] == "phrase":
            assert t - p["end"] <= o.min_speech_s + 0.25 + 1e-6
    assert httpx.delete(at, headers=AUTH).status_code == 404            # it is gone


def test_chunks_that_are_not_audio_get_one_line_each(service):
    at = f"{service}/live/{post(f'{service}/live').json()['session']}"
    r = post(at, b"abc")
    assert r.status_code == 400 and "multiple of 4 bytes" in r.json()["error"]
    r = post(at, np.array([0.0, np.nan], "<f4").tobytes())
    assert r.status_code == 400 and "NaN" in r.json()["error"]
    r = post(at, np.zeros(6 * SR, "<f4").tobytes())
    assert r.status_code == 413 and "at most 5 s" in r.json()["error"]
    assert post(at, np.zeros(SR, "<f4").tobytes()).json()["items"] == []   # still open
    assert httpx.delete(at, headers=AUTH).status_code == 200
    r = post(f"{service}/live/no-such-session", b"")
    assert r.status_code == 404 and "open a new one" in r.json()["error"]


def test_sessions_are_bounded_token_protected_and_dropped_when_idle(service):
    assert httpx.post(f"{service}/live").status_code == 401
    a = post(f"{service}/live").json()["session"]
    assert post(f"{service}/live").status_code == 200
    r = post(f"{service}/live")
    assert r.status_code == 503 and "2 live sessions are open" in r.json()["error"]
    time.sleep(3.5)                    # both sit idle past --live-idle: dropped
    assert post(f"{service}/live/{a}", np.zeros(SR, "<f4").tobytes()).status_code == 404
    assert post(f"{service}/live").status_code == 200                   # room again
    health = httpx.get(f"{service}/health", headers=AUTH).json()
    assert health["limits"]["live"]["max_sessions"] == 2 and health["live_sessions"] == 1
    # Abandoned and never asked about again: the server drops it by itself.
    time.sleep(3 + 1.5 + 0.5)
    assert httpx.get(f"{service}/health", headers=AUTH).json()["live_sessions"] == 0


def test_uploads_of_a_named_speaker_adapt_to_that_speaker(service):
    clips = sorted(FIXTURES.glob("*.flac"))[:3]

    def upload(clip: Path, speaker: str | None) -> httpx.Response:
        data = {"speaker": speaker} if speaker is not None else {}
        return httpx.post(f"{service}/predict", files={"audio": (clip.name, clip.read_bytes())},
                          data=data, headers=AUTH, timeout=60)

    first = upload(clips[0], None).json()
    assert "adapted_on" not in first
    seen = [upload(c, "alice").json() for c in clips]
    assert [r["adapted_on"] for r in seen] == [1, 2, 3] and seen[0]["speaker"] == "alice"
    assert seen[0]["probabilities"] != first["probabilities"]   # her statistics, not the average
    assert upload(clips[0], "bob").json()["adapted_on"] == 1    # another speaker starts afresh
    r = upload(clips[0], "no spaces please")
    assert r.status_code == 400 and "'speaker' names a speaker" in r.json()["error"]
