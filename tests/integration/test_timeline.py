"""`wise timeline` and `wise.timeline`: a recording of several real clips with gaps of silence
and noise between them is cut into one phrase per clip, each predicted from exactly the
recording's samples, adapted to its speaker as the recording goes on; silence, music, damage
and a length cap each get a clear outcome."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wise.audio import stream_audio
from wise.cli import main
from wise.errors import WiseError
from wise.predict import Predictor
from wise.testing.recordings import join_clips
from wise.timeline import Gap, Phrase, Segmenter, TimelineOptions, _utterances, timeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ravdess" / "Actor_10"
SR = 16000
# Small windows, so that three short clips already span several of them.
SMALL = {"max_utterance_s": 6.0, "window_s": 16.0}


@pytest.fixture(scope="module")
def model() -> Predictor:
    return Predictor()          # the bundled model: trained with normalize: speaker


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """Three clips of one actor with 1.5-2 s of silence or faint noise before each, written
    at 44.1 kHz stereo (so the recording is resampled as it streams); the clips' extents."""
    path = tmp_path_factory.mktemp("timeline") / "joined.wav"
    placed = join_clips(sorted(FIXTURES.glob("*.flac"))[:3], path, gaps_s=(1.5, 2.0),
                        sample_rate=44100, channels=2)
    return path, [(p.start, p.end) for p in placed]


def phrases(items) -> list[Phrase]:
    return [i for i in items if isinstance(i, Phrase)]


def test_one_phrase_per_clip_inside_it_and_the_items_tile_the_recording(model, recording):
    path, extents = recording
    tl = timeline(path, model, **SMALL)
    items = list(tl)
    found = phrases(items)
    assert len(found) == len(extents)
    pad = TimelineOptions().speech_pad_s
    for p, (a, b) in zip(found, extents, strict=True):
        assert a - pad - 0.05 <= p.start < p.end <= b + pad + 0.05
        assert p.end - p.start > 0.4 * (b - a)             # the speech, not a fragment of it
        assert p.prediction.transcript and p.label in model.labels
        assert all(p.start - 0.05 <= w.start <= w.end <= p.end + 0.05
                   for w in p.prediction.words)             # words in the recording's time
    assert items[0].start == 0 and abs(items[-1].end - tl.duration) < 1e-3
    assert all(a.end == b.start for a, b in zip(items, items[1:], strict=False))
    assert all(isinstance(g, Gap) and g.why == "no speech found"
               for g in items if not isinstance(g, Phrase))
    assert tl.damage == "" and tl.duration == pytest.approx(extents[-1][1] + 1, abs=0.01)


def test_each_phrase_is_predicted_from_the_recordings_own_samples(model, recording,
                                                                  monkeypatch):
    """Unadapted, a phrase's prediction is `predict` of exactly those samples of the
    recording, whichever window they were cut from."""
    path, _ = recording
    heard: list[np.ndarray] = []
    real = Predictor.predict

    def spy(self, audio, *args, **kw):
        heard.append(np.array(audio))
        return real(self, audio, *args, **kw)

    monkeypatch.setattr(Predictor, "predict", spy)
    found = phrases(timeline(path, model, adapt=False, **SMALL))
    monkeypatch.undo()
    whole = np.concatenate(list(stream_audio(path, SR)))
    for p, x in zip(found, heard, strict=True):
        first = round(p.start * SR)
        offsets = [d for d in range(-20, 21) if np.array_equal(whole[first + d:][:len(x)], x)]
        assert offsets, "the phrase's samples are not the recording's at its start"
        alone = model.predict(x, sample_rate=SR)
        assert alone.probabilities == p.prediction.probabilities
        assert [w.word for w in alone.words] == [w.word for w in p.prediction.words]
        assert p.adapted_on == 0


def test_adaptation_grows_with_the_speaker_and_restarts_at_a_change(model, recording):
    path, extents = recording
    grown = phrases(timeline(path, model, **SMALL))
    assert [p.adapted_on for p in grown] == [1, 2, 3] and {p.speaker for p in grown} == {0}
    plain = phrases(timeline(path, model, adapt=False, **SMALL))
    assert any(a.prediction.probabilities != b.prediction.probabilities
               for a, b in zip(grown, plain, strict=True))
    change = (extents[1][1] + extents[2][0]) / 2
    split = phrases(timeline(path, model, speaker_changes=(change,), **SMALL))
    assert [(p.speaker, p.adapted_on) for p in split] == [(0, 1), (0, 2), (1, 1)]


def test_silence_and_music_are_gaps_not_emotions(model, tmp_path):
    t = np.arange(6 * SR) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * 0.1
    for name, x in (("silence", np.zeros(10 * SR)), ("music", chord)):
        sf.write(tmp_path / f"{name}.wav", x.astype(np.float32), SR)
        items = list(timeline(tmp_path / f"{name}.wav", model))
        assert items and all(isinstance(i, Gap) for i in items), name
        assert items[0].start == 0 and items[-1].end == pytest.approx(len(x) / SR, abs=1e-3)


def test_a_truncated_file_keeps_what_came_before_and_says_so(model, recording, tmp_path):
    path, extents = recording
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    tl = timeline(cut, model, **SMALL)
    found = phrases(tl)
    assert "the file ends at" in tl.damage and "what was there was kept" in tl.damage
    assert 1 <= len(found) < len(extents)
    assert all(p.end <= tl.duration + 1e-3 for p in found)


def test_a_cap_or_a_file_that_is_no_audio_is_one_error_before_any_result(model, recording,
                                                                          tmp_path):
    path, _ = recording
    with pytest.raises(WiseError, match=r"audio is 16.9 s long, over the limit of 5 s$"):
        next(iter(timeline(path, model, max_seconds=5)))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(WiseError, match="not a readable audio file"):
        next(iter(timeline(junk, model)))
    with pytest.raises(WiseError, match="window_s must hold two"):
        TimelineOptions(window_s=20)


def test_the_command_writes_its_four_files(recording, tmp_path, capsys):
    path, extents = recording
    out = tmp_path / "out"
    assert main(["timeline", str(path), "--out", str(out), "--json", "--quiet",
                 "--speaker-change", "100"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["kind"] for x in lines].count("phrase") == len(extents)
    assert [json.loads(x) for x in (out / "phrases.jsonl").read_text().splitlines()] == lines
    rows = (out / "phrases.csv").read_text().splitlines()
    assert rows[0].startswith("start,end,speaker,label,confidence,p_ang,p_hap,p_neu,p_sad")
    assert len(rows) == 1 + len(extents)
    s = json.loads((out / "summary.json").read_text())
    assert s["phrases"] == len(extents) and s["adapted"] and s["speakers"] == 1
    assert sum(s["time_share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 1 <= len(s["most_intense"]) <= 5
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]     # no temporaries


def test_the_command_names_a_missing_file_in_one_line(tmp_path, capsys):
    assert main(["timeline", str(tmp_path / "none.wav"), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("none.wav: audio file not found")
    assert not (tmp_path / "o").exists()


def test_audio_pushed_a_quarter_second_at_a_time_is_cut_as_the_file_is(recording):
    """The live path (`Segmenter` fed 0.25 s blocks, the VAD run on each) finds the utterances
    the file path finds, each as soon as the VAD has heard the pause after it, the padding
    not yet heard completed with silence: the model hears as much as from a file."""
    path, extents = recording
    whole = np.concatenate(list(stream_audio(path, SR)))
    opts = TimelineOptions()
    step = SR // 4
    live, cuts, heard_at = Segmenter(opts, SR, step_s=0.25, live=True), [], []
    for i in range(0, len(whole), step):
        for cut in live.push(whole[i:i + step]):
            cuts.append(cut)
            heard_at.append(i + step)
    cuts += live.flush()
    file_cuts = list(_utterances(iter([whole]), opts, SR))
    assert len(cuts) == len(file_cuts) == len(extents)
    assert all(c.length == len(c.samples) for c in file_cuts)
    pad, edge = int(opts.speech_pad_s * SR), int(0.1 * SR)
    for c, f in zip(cuts, file_cuts, strict=True):
        # The same speech, give or take the VAD's call at its edges (live, the detector
        # starts where the audio held starts, and its state there differs). A pause shorter
        # than two paddings, which a file's cuts share at its middle, goes live to the next
        # utterance from where the last one was cut. The heard end at most a padding short
        # of the file's, completed with silence to about the file's length.
        assert f.first - pad - edge <= c.first <= f.first + edge
        assert np.array_equal(c.samples[:c.length], whole[c.first:c.first + c.length])
        assert not c.samples[c.length:].any()
        assert -edge <= f.first + f.length - (c.first + c.length) <= pad + edge
        assert abs(c.first + len(c.samples) - f.first - f.length) <= edge
    assert all(a.first + a.length <= b.first                    # no audio heard twice
               for a, b in zip(cuts, cuts[1:], strict=False))
    # Each of the first cuts came before its padding was all heard: within the pause the VAD
    # needs (min_silence_s), a VAD step, the shortest speech and its 32 ms frames.
    late = opts.min_silence_s + 0.25 + opts.min_speech_s + 0.032
    for c, f, t in zip(cuts, file_cuts, heard_at, strict=False):
        assert c.length < f.length
        assert t < f.first + f.length
        assert (t - (f.first + f.length - pad)) / SR <= late
