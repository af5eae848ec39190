"""A synthetic emotional speech corpus in the IEMOCAP release layout, made with espeak-ng.

IEMOCAP needs a licence and cannot ship with the project, so this corpus stands in for it:
the IEMOCAP reader reads it unchanged, and the whole pipeline runs on a fresh machine.
It is built to *test* word-level fusion, not to flatter it. Every utterance is one of three
types, in equal shares within each class:

* acoustic    - lexically neutral words; the emotion is in the utterance's prosody only.
* lexical     - emotion words of the class; the prosody is plain (class-independent).
* interaction - two evaluative adjectives from different groups, one of which (the pivot)
                is spoken with a local pattern (SSML <prosody> around that word only, then
                a spectral tilt or tremolo on that word's samples). The label is
                `INTERACTION[group of pivot][pattern]`, a Latin square: neither the pivot
                word nor the pattern says anything about the label alone.

Labels come from these rules plus a documented rate of label noise; the generative facts
of each utterance go to `synthetic_meta.jsonl` at the corpus root. docs/synthetic-corpus.md
documents the model, its tables and why.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import soundfile as sf

from wise.cluster import imap
from wise.errors import WiseError
from wise.espeak import Espeak
from wise.fsutil import atomic_write_bytes, atomic_write_text
from wise.labels import LABELS
from wise.utterance import Segment

TARGETS = LABELS
# Class shares of the four target classes, as in IEMOCAP's 4-class set (1103/1636/1708/1084).
CLASS_PRIOR = {"ang": 0.20, "hap": 0.30, "neu": 0.31, "sad": 0.19}
# Rows the reader must drop (IEMOCAP's frustration and no-agreement labels): shares of all rows.
NONTARGET_RATE = {"fru": 0.025, "xxx": 0.015}
EXC_SHARE = 0.35      # share of happy rows written as `exc` (the reader merges exc into hap)
LABEL_NOISE = 0.05    # share of target rows whose label is replaced by another class
TYPES = ("acoustic", "lexical", "interaction")
META_FILE = "synthetic_meta.jsonl"
SAMPLE_RATE = 16000
FRAME = 160           # samples per 10 ms alignment frame
MIN_PAUSE_FRAMES = 3  # shorter gaps between words belong to the next word, not to <sil>

# ---------------------------------------------------------------------------------------
# Speakers: 5 sessions x (F, M). Fixed for every seed so results can name their speakers.
# Offsets are added to the emotion prosody (espeak units: pitch/range 0..100, rate in
# words per minute, volume 0..200).


@dataclass(frozen=True)
class Speaker:
    session: int
    gender: str
    voice: str
    pitch: float
    rate: float
    range: float
    volume: float

    @property
    def name(self) -> str:
        return f"Ses{self.session:02d}{self.gender}"


SPEAKERS = (
    Speaker(1, "F", "en-us+f1", +4, +8, +5, +5),
    Speaker(1, "M", "en-us+m1", -5, -6, 0, +8),
    Speaker(2, "F", "en-us+f2", 0, -10, -6, -6),
    Speaker(2, "M", "en-us+m3", +6, +12, +6, 0),
    Speaker(3, "F", "en+f3", -4, 0, +8, +4),
    Speaker(3, "M", "en+m2", -2, +5, -8, -8),
    Speaker(4, "F", "en-us+f4", +8, +4, -3, -4),
    Speaker(4, "M", "en-us+m4", 0, -12, +4, +6),
    Speaker(5, "F", "en-us+f5", -8, +10, 0, 0),
    Speaker(5, "M", "en-gb-x-rp+m5", +3, -4, -5, -5),
)

# ---------------------------------------------------------------------------------------
# Utterance prosody: (mean, sd) per espeak parameter, plus pauses inserted between words
# (probability per word boundary, pause length range in ms). The class distributions
# overlap on purpose: hap and ang share a fast, raised delivery and differ mostly in
# loudness and pitch range; sad and neu differ in rate, pitch and pauses.

GLOBAL_PROSODY: dict[str, dict[str, tuple[float, float]]] = {
    #         rate (wpm)     pitch         range         volume
    "neu": {"rate": (165, 15), "pitch": (50, 6), "range": (45, 10), "volume": (100, 10)},
    "hap": {"rate": (185, 15), "pitch": (60, 6), "range": (68, 10), "volume": (115, 12)},
    "ang": {"rate": (195, 18), "pitch": (55, 7), "range": (55, 12), "volume": (140, 15)},
    "sad": {"rate": (138, 15), "pitch": (41, 6), "range": (25, 8), "volume": (82, 10)},
    # The lexical and interaction types: the same for every class.
    "plain": {"rate": (170, 15), "pitch": (50, 6), "range": (48, 10), "volume": (100, 10)},
}
PAUSES: dict[str, tuple[float, int, int]] = {
    "neu": (0.08, 150, 350), "hap": (0.06, 100, 250), "ang": (0.04, 80, 200),
    "sad": (0.25, 300, 700), "plain": (0.08, 150, 350),
}
ESPEAK_RANGE = {"rate": (80, 450), "pitch": (0, 100), "range": (0, 100), "volume": (0, 200)}

# ---------------------------------------------------------------------------------------
# Local patterns (docs/synthetic-interaction-design.md). The paper's audio features are
# MFCCs, which carry little pitch, so every pattern differs from every other in at least two
# cues MFCCs do carry: level (c0), duration (frames per word and phone), spectral tilt (c1,
# c2, ...) and level modulation (deltas of c0). Two parts:
# - SSML <prosody> around the word, values in percent of the current value (rate ->
#   duration, volume -> level; pitch and range are kept as an extra cue);
# - signal processing of the word's own samples after synthesis: `tilt_db`, the gain at
#   TILT_BAND_HZ[1] and above relative to TILT_BAND_HZ[0] and below (positive: brighter),
#   and `tremolo`, the depth of a TREMOLO_HZ amplitude modulation.
# Each use scales every deviation (from 100% for SSML, from 0 for the signal part) by one
# strength s ~ U(0.75, 1.15), so patterns vary in strength.

SSML_KEYS = ("pitch", "range", "rate", "volume")
PATTERNS: dict[str, dict[str, float]] = {
    "shaky":   {"pitch": 125, "range": 150, "rate": 100, "volume": 100,
                "tilt_db": 0, "tremolo": 0.7},
    "pressed": {"pitch": 110, "range": 70, "rate": 130, "volume": 180,
                "tilt_db": 10, "tremolo": 0},
    "subdued": {"pitch": 80, "range": 30, "rate": 75, "volume": 55,
                "tilt_db": -14, "tremolo": 0},
    "drawn":   {"pitch": 115, "range": 200, "rate": 50, "volume": 100,
                "tilt_db": 0, "tremolo": 0},
}
PATTERN_SCALE = (0.75, 1.15)
TILT_BAND_HZ = (500.0, 4000.0)  # the tilt rises linearly in log frequency between these
TREMOLO_HZ = 7.0                # about one cycle per 9.5 frames of the 15 ms hop
EDGE_S = 0.010                  # raised-cosine cross-fade at each end of a processed word
DISTRACTOR_RATE = 0.25  # chance that one non-pivot noun carries a pattern (any type)

# Pivot words: four groups of evaluative adjectives, all usable as "the movie was ___".
PIVOT_GROUPS: dict[str, tuple[str, ...]] = {
    "positive": ("great", "wonderful", "perfect", "lovely", "fantastic", "beautiful"),
    "negative": ("terrible", "awful", "horrible", "dreadful", "ugly", "nasty"),
    "strange": ("strange", "weird", "crazy", "unusual", "bizarre", "odd"),
    "ordinary": ("fine", "okay", "normal", "simple", "ordinary", "average"),
}

# The interaction rule: label = INTERACTION[group of the pivot][pattern on the pivot].
# A Latin square, so each group and each pattern occurs once with every class. Some cells
# echo real use (a positive word said subdued is resigned -> sad, said pressed is
# sarcastic -> ang, said shaky is thrilled -> hap; "okay!" said pressed is eager -> hap);
# the rest complete the square.
PATTERN_ORDER = ("shaky", "pressed", "subdued", "drawn")
INTERACTION: dict[str, dict[str, str]] = {
    "positive": dict(zip(PATTERN_ORDER, ("hap", "ang", "sad", "neu"), strict=True)),
    "negative": dict(zip(PATTERN_ORDER, ("ang", "sad", "neu", "hap"), strict=True)),
    "strange": dict(zip(PATTERN_ORDER, ("sad", "neu", "hap", "ang"), strict=True)),
    "ordinary": dict(zip(PATTERN_ORDER, ("neu", "hap", "ang", "sad"), strict=True)),
}

# Neutral nouns fill the {n1}/{n2} slots of every template.
NOUNS = (
    "movie", "dinner", "party", "weather", "meeting", "trip", "house", "garden", "music",
    "book", "car", "room", "hotel", "game", "show", "plan", "idea", "coffee", "story",
    "city", "job", "class", "office", "kitchen", "train", "lunch", "concert", "picture",
    "song", "road", "bus", "store", "letter", "phone",
)

INTERACTION_TEMPLATES = (
    "The {n1} was {A} and the {n2} was {B}.",
    "I thought the {n1} looked {A}, but the {n2} seemed {B}.",
    "Honestly, the {n1} is {A} and the {n2} is {B}.",
    "She said the {n1} felt {A}, and the {n2} felt {B}.",
    "My {n1} was {A} today, and his {n2} was {B}.",
    "The {n1} sounds {A}, but the {n2} sounds {B}.",
    "You know, the {n1} seemed {A} and the {n2} looked {B}.",
    "Well, the {n1} was {A}, the {n2} was {B}.",
    "Their {n1} is {A} and our {n2} is {B}.",
    "So the {n1} was {A} and then the {n2} got {B}.",
)

# Lexically neutral narration: the acoustic type (all classes) and non-target `xxx` rows.
CARRIER_TEMPLATES = (
    "We went to the {n1} on Tuesday.",
    "The {n1} is behind the {n2}.",
    "He left the {n1} by the door.",
    "I saw her at the {n1} yesterday.",
    "They moved the {n1} to the other side.",
    "She told me about the {n1} this morning.",
    "We talked about the {n1} for a while.",
    "My brother found the {n1} near the {n2}.",
    "The {n1} was on the corner of the street.",
    "I think the {n1} closes at seven.",
    "You can take the {n1} after lunch.",
    "He asked about the {n1} and the {n2}.",
    "We will see the {n1} again next week.",
    "Did you call them about the {n1}?",
    "Where did you put the {n1}?",
    "The {n1} and the {n2} are in the same building.",
)

# The lexical type: emotion-bearing words per class (neu: an administrative register).
LEXICAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "hap": (
        "I am so happy about the {n1}.",
        "We were delighted with the {n1}.",
        "I really love the {n1}.",
        "I am glad you came to the {n1}.",
        "We should celebrate the {n1} tonight.",
        "I am proud of the {n1}.",
        "That {n1} was so much fun.",
        "I feel lucky about the {n1}.",
        "Everyone was laughing at the {n1}.",
        "I enjoyed the {n1} so much.",
    ),
    "ang": (
        "I am so angry about the {n1}.",
        "I hate the {n1}.",
        "This {n1} is ridiculous.",
        "That {n1} is completely unfair.",
        "I am furious about the {n1}.",
        "I am sick of the {n1}.",
        "Stop lying about the {n1}.",
        "The {n1} is stupid and I am annoyed.",
        "Get out of my {n1}.",
        "That {n1} was disgusting.",
    ),
    "sad": (
        "I miss the {n1}.",
        "I feel so lonely without the {n1}.",
        "I am sorry about the {n1}.",
        "We lost the {n1}.",
        "I cried after the {n1}.",
        "The {n1} is gone now.",
        "I feel so tired and alone.",
        "Nobody came to the {n1}.",
        "It hurts to think about the {n1}.",
        "I am sad about the {n1}.",
    ),
    "neu": (
        "Please fill out the form before the {n1}.",
        "The schedule for the {n1} is on the desk.",
        "I need the address of the {n1}.",
        "My appointment is after the {n1}.",
        "The receipt for the {n1} is in the folder.",
        "Send the document to the office by Friday.",
        "The {n1} is listed under the second account.",
        "Could you confirm the registration for the {n1}?",
        "The invoice mentions the {n1} and the {n2}.",
        "Check the schedule and the address again.",
    ),
}

# Evaluator lines of the EmoEvaluation files.
CATEGORY_NAMES = {"ang": "Anger", "hap": "Happiness", "exc": "Excited", "neu": "Neutral",
                  "sad": "Sadness", "fru": "Frustration", "sur": "Surprise", "oth": "Other"}
VAD_MEANS = {"ang": (1.8, 3.8, 3.7), "hap": (4.0, 3.3, 3.1), "exc": (3.9, 3.9, 3.4),
             "neu": (3.0, 2.3, 2.8), "sad": (1.9, 2.0, 2.2), "fru": (2.0, 3.2, 3.0),
             "xxx": (2.6, 2.8, 2.9)}
SNR_DB = (15.0, 35.0)       # additive white noise, relative to the speech's RMS
LEAD_S = (0.15, 0.5)        # silence before the first word
TRAIL_S = (0.05, 0.3)       # silence after the last word (espeak adds ~0.3 s)
DIALOG_SIZE = (8, 30)       # utterances per dialog
FIRST_START_S = (0.5, 3.0)  # the first utterance's start within its dialog
TURN_GAP_S = (0.2, 2.0)     # gap between consecutive utterances of a dialog
FRAME_SCORE = (2500, 7500)  # |SegAScr| per frame, as the score column's scale


# ---------------------------------------------------------------------------------------
# Planning: every random choice except the noise samples is made here, in one process,
# in utterance order, so the corpus does not depend on the number of workers.


def _quota(shares: dict[str, float], n: int) -> list[str]:
    """Exactly n labels in the given shares (largest remainder), in key order."""
    raw = {k: v * n / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    rest = sorted(raw, key=lambda k: (counts[k] - raw[k], list(raw).index(k)))
    for k in rest[: n - sum(counts.values())]:
        counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


def _dialog_names(session: int) -> Iterator[str]:
    """Ses01F_impro01, Ses01M_impro01, Ses01F_script01_1, Ses01M_script01_1, Ses01F_impro02,
    ..., alternating improvised and scripted dialogs; scripts have parts _1 to _3."""
    for k in itertools.count(1):
        if k % 2:
            kind = f"impro{(k + 1) // 2:02d}"
        else:
            m = k // 2 - 1
            kind = f"script{m // 3 + 1:02d}_{m % 3 + 1}"
        for g in ("F", "M"):
            yield f"Ses{session:02d}{g}_{kind}"


def _draw_prosody(rng: np.random.Generator, key: str, spk: Speaker) -> dict[str, float]:
    out = {}
    for p, (mu, sd) in GLOBAL_PROSODY[key].items():
        lo, hi = ESPEAK_RANGE[p]
        out[p] = float(np.clip(round(rng.normal(mu, sd) + getattr(spk, p)), lo, hi))
    return out


def _pattern_values(rng: np.random.Generator, pattern: str
                    ) -> tuple[dict[str, int], dict[str, float]]:
    """One use of `pattern`: its SSML <prosody> values and its signal processing, both
    scaled by one random strength (a single draw, as before the signal part existed, so
    the planner's random stream and thus every other choice of a seed are unchanged)."""
    s = rng.uniform(*PATTERN_SCALE)
    values = PATTERNS[pattern]
    ssml = {p: int(round(100 + (values[p] - 100) * s)) for p in SSML_KEYS}
    signal = {"tilt_db": round(values["tilt_db"] * s, 2),
              "tremolo": round(values["tremolo"] * s, 3)}
    return ssml, signal


def _fill(template: str, rng: np.random.Generator,
          adjectives: tuple[str, str] | None = None) -> tuple[list[str], dict[str, int]]:
    """Tokens of a filled template and the token index of each slot ({n1}, {A}, ...)."""
    nouns = rng.choice(len(NOUNS), size=2, replace=False)
    values = {"n1": NOUNS[nouns[0]], "n2": NOUNS[nouns[1]]}
    if adjectives:
        values["A"], values["B"] = adjectives
    tokens, slots = [], {}
    for i, tok in enumerate(template.split()):
        if "{" in tok:
            name = tok[tok.index("{") + 1: tok.index("}")]
            tok = tok.replace("{" + name + "}", values[name])
            slots[name] = i
        tokens.append(tok)
    tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, slots


def _plan(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    nontarget = {k: (max(1, round(r * n)) if n >= 10 else 0) for k, r in NONTARGET_RATE.items()}
    n_target = n - sum(nontarget.values())
    labels = _quota(CLASS_PRIOR, n_target)
    # Exact quotas, not sampling: types are balanced within each class at any size.
    kinds: list[tuple[str, str]] = []
    for c in TARGETS:
        m = labels.count(c)
        kinds += [(c, t) for t in _quota(dict.fromkeys(TYPES, 1.0), m)]
    kinds += [(k, "nontarget") for k, m in nontarget.items() for _ in range(m)]
    order = rng.permutation(len(kinds))
    kinds = [kinds[i] for i in order]
    noisy = set(rng.choice(n_target, size=round(LABEL_NOISE * n_target), replace=False)
                .tolist()) if n_target else set()
    group_cycle = {c: [] for c in TARGETS}

    items: list[dict] = []
    per_session = _quota({str(s): 1.0 for s in range(1, 6)}, n)
    speakers = {(s.session, s.gender): s for s in SPEAKERS}
    target_index = 0
    for session in range(1, 6):
        remaining = per_session.count(str(session))
        names = _dialog_names(session)
        while remaining:
            size = min(remaining, int(rng.integers(DIALOG_SIZE[0], DIALOG_SIZE[1] + 1)))
            remaining -= size
            dialog = next(names)
            counters = {"F": 0, "M": 0}
            gender = "F" if rng.random() < 0.5 else "M"
            start_s = float(rng.uniform(*FIRST_START_S))
            for j in range(size):
                if j and rng.random() < 0.7:
                    gender = "M" if gender == "F" else "F"
                utt_id = f"{dialog}_{gender}{counters[gender]:03d}"
                counters[gender] += 1
                clean, utype = kinds[len(items)]
                item = _plan_utterance(rng, speakers[(session, gender)], clean, utype,
                                       group_cycle)
                if utype != "nontarget":
                    if target_index in noisy:
                        others = [c for c in TARGETS if c != clean]
                        item["label"] = others[int(rng.integers(len(others)))]
                    target_index += 1
                item.update(id=utt_id, dialog=dialog, session=f"Ses{session:02d}",
                            index=len(items), gap_before=start_s if j == 0 else
                            float(rng.uniform(*TURN_GAP_S)))
                items.append(item)
    _assign_exc(rng, items)
    return items


def _assign_exc(rng: np.random.Generator, items: list[dict]) -> None:
    """Write EXC_SHARE of the happy rows as `exc` (at least one when there are any)."""
    hap = [i for i, it in enumerate(items) if it["label"] == "hap"]
    k = max(1, round(EXC_SHARE * len(hap))) if hap else 0
    for i in rng.choice(len(hap), size=k, replace=False).tolist() if k else []:
        items[hap[i]]["label"] = "exc"
    for it in items:
        it["label_written"] = it.pop("label")


def _plan_utterance(rng: np.random.Generator, spk: Speaker, clean: str, utype: str,
                    group_cycle: dict[str, list[str]]) -> dict:
    meta: dict = {"type": utype, "clean_label": clean, "label": clean, "speaker": spk.name,
                  "voice": spk.voice, "pivot": None, "pivot_group": None, "pattern": None,
                  "foil": None, "foil_group": None, "distractor": None,
                  "distractor_pattern": None, "pattern_signal": None,
                  "distractor_signal": None}
    marks: dict[int, dict[str, int]] = {}       # token -> SSML <prosody> values
    signals: dict[int, dict[str, float]] = {}   # token -> signal processing after synthesis
    candidates: list[int] = []  # nouns that may carry a distractor pattern
    if utype == "interaction":
        if not group_cycle[clean]:
            group_cycle[clean] = [list(PIVOT_GROUPS)[i]
                                  for i in rng.permutation(len(PIVOT_GROUPS))]
        group = group_cycle[clean].pop()
        pattern = next(p for p, c in INTERACTION[group].items() if c == clean)
        others = [g for g in PIVOT_GROUPS if g != group]
        foil_group = others[int(rng.integers(len(others)))]
        pivot = PIVOT_GROUPS[group][int(rng.integers(len(PIVOT_GROUPS[group])))]
        foil = PIVOT_GROUPS[foil_group][int(rng.integers(len(PIVOT_GROUPS[foil_group])))]
        first = rng.random() < 0.5
        template = INTERACTION_TEMPLATES[int(rng.integers(len(INTERACTION_TEMPLATES)))]
        tokens, slots = _fill(template, rng, (pivot, foil) if first else (foil, pivot))
        at = slots["A" if first else "B"]
        marks[at], signals[at] = _pattern_values(rng, pattern)
        candidates = [slots["n1"], slots["n2"]]
        meta.update(pivot=pivot, pivot_group=group, pattern=pattern, foil=foil,
                    foil_group=foil_group, pattern_signal=signals[at])
        prosody_key = "plain"
    elif utype == "lexical" or (utype == "nontarget" and clean == "fru"):
        source = clean if utype == "lexical" else ("ang", "sad")[int(rng.integers(2))]
        pool = LEXICAL_TEMPLATES[source]
        tokens, slots = _fill(pool[int(rng.integers(len(pool)))], rng)
        candidates = [i for k, i in slots.items() if k.startswith("n")]
        prosody_key = "plain"
    else:  # acoustic, and the non-target `xxx` rows (prosody of a random class)
        tokens, slots = _fill(CARRIER_TEMPLATES[int(rng.integers(len(CARRIER_TEMPLATES)))],
                              rng)
        candidates = [i for k, i in slots.items() if k.startswith("n")]
        prosody_key = clean if utype == "acoustic" else TARGETS[int(rng.integers(4))]
    if candidates and rng.random() < DISTRACTOR_RATE:
        at = candidates[int(rng.integers(len(candidates)))]
        pattern = PATTERN_ORDER[int(rng.integers(4))]
        marks[at], signals[at] = _pattern_values(rng, pattern)
        meta.update(distractor=_bare(tokens[at]), distractor_pattern=pattern,
                    distractor_signal=signals[at])
    prosody = _draw_prosody(rng, prosody_key, spk)
    p_break, lo, hi = PAUSES[prosody_key]
    breaks = {i: int(rng.integers(lo, hi + 1)) for i in range(1, len(tokens))
              if rng.random() < p_break}
    meta.update(
        text=" ".join(tokens), ssml=_ssml(tokens, marks, breaks), signals=signals,
        prosody=prosody, prosody_key=prosody_key, pauses_ms=sorted(breaks.values()),
        snr_db=round(float(rng.uniform(*SNR_DB)), 2),
        lead=int(rng.uniform(*LEAD_S) * SAMPLE_RATE / FRAME) * FRAME,
        trail=int(rng.uniform(*TRAIL_S) * SAMPLE_RATE),
        vad_noise=rng.normal(0.0, 0.6, size=(2, 3)).round(4).tolist(),
        evaluators=[float(x) for x in rng.random(3)],
    )
    return meta


def _bare(token: str) -> str:
    return token.strip(".,?!")


def _ssml(tokens: list[str], marks: dict[int, dict[str, int]], breaks: dict[int, int]) -> str:
    """SSML for espeak: <prosody> around single marked words, <break> before some words."""
    parts = []
    for i, tok in enumerate(tokens):
        if i in breaks:
            parts.append(f'<break time="{breaks[i]}ms"/>')
        if i in marks:
            # The token's punctuation goes inside the element: espeak reads a full stop that
            # follows a closing tag aloud ("meeting dot"), which would corrupt the gold times.
            attrs = " ".join(f'{k}="{v}%"' for k, v in marks[i].items())
            tok = f"<prosody {attrs}>{tok}</prosody>"
        parts.append(tok)
    return "<speak>" + " ".join(parts) + "</speak>"


# ---------------------------------------------------------------------------------------
# Rendering: one utterance -> wav, .wdseg, .phseg. Runs in worker processes.

_espeak: Espeak | None = None


def _engine() -> Espeak:
    """One synthesiser per worker process (the library is per process)."""
    global _espeak
    if _espeak is None:
        _espeak = Espeak()
    return _espeak


def _render(job: tuple[str, int, dict]) -> dict:
    root, seed, it = job
    p = it["prosody"]
    res = _engine().synthesize(it["ssml"], voice=it["voice"], rate=int(p["rate"]),
                               pitch=int(p["pitch"]), pitch_range=int(p["range"]),
                               volume=int(p["volume"]), ssml=True)
    words = [w.token for w in res.words]
    if [w.lower() for w in words] != [_bare(t).lower() for t in it["text"].split()]:
        raise WiseError(None, f"{it['id']}: espeak's words {words} differ from the text")
    rng = np.random.default_rng([seed, it["index"]])
    speech = res.audio.astype(np.float64)
    for k, signal in it["signals"].items():
        w = res.words[k]  # espeak's words are the text's tokens (checked above)
        speech = shape_word(speech, int(round(w.start * SAMPLE_RATE)),
                            int(round(w.end * SAMPLE_RATE)), **signal)
    peak = float(np.abs(speech).max()) if len(speech) else 0.0
    if peak > 0.98:  # keep the loudest (angry, pressed) speech from clipping
        speech *= 0.98 / peak
    lead, trail = it["lead"], it["trail"]
    total = lead + len(speech) + trail
    total += (-total) % FRAME  # whole 10 ms frames, so the wdseg ends where the wav ends
    x = np.zeros(total)
    x[lead: lead + len(speech)] = speech
    rms = float(np.sqrt(np.mean(speech ** 2))) if len(speech) else 1e-3
    x += rng.normal(0.0, rms * 10 ** (-it["snr_db"] / 20), total)
    x = np.clip(x, -1.0, 32767 / 32768)
    pcm = np.round(x * 32768).astype(np.int16)

    offset = lead / SAMPLE_RATE
    wd, ph = _alignment_rows(res.words, res.phones, res.phone_word, offset, total // FRAME)
    frame_scores = rng.uniform(*FRAME_SCORE, size=total // FRAME)
    session_dir = Path(root) / f"Session{int(it['session'][3:])}"
    wav = session_dir / "sentences" / "wav" / it["dialog"] / f"{it['id']}.wav"
    _write_wav(wav, pcm)
    align = session_dir / "sentences" / "ForcedAlignment" / it["dialog"]
    atomic_write_text(align / f"{it['id']}.wdseg", _seg_file(wd, "Word", frame_scores))
    atomic_write_text(align / f"{it['id']}.phseg", _seg_file(ph, "Phone", frame_scores))
    return {"id": it["id"], "duration": total / SAMPLE_RATE}


def shape_word(speech: np.ndarray, start: int, end: int, tilt_db: float = 0.0,
               tremolo: float = 0.0) -> np.ndarray:
    """`speech` with the samples [start, end) of one word given a spectral tilt and a
    tremolo (see PATTERNS). The processed word is blended in with EDGE_S raised-cosine
    ramps inside the span, so no click is made; samples outside the span are unchanged."""
    out = np.array(speech, dtype=np.float64)
    span = out[start:end].copy()
    n = len(span)
    if n == 0 or (not tilt_db and not tremolo):
        return out
    shaped = span
    if tilt_db:
        # Zero-phase filtering in the frequency domain, zero-padded to twice the span so the
        # filter's tail does not wrap around onto the word's start.
        freq = np.fft.rfftfreq(2 * n, 1 / SAMPLE_RATE)
        lo, hi = TILT_BAND_HZ
        ramp = np.clip(np.log(np.maximum(freq, lo) / lo) / np.log(hi / lo), 0.0, 1.0)
        spectrum = np.fft.rfft(span, 2 * n) * 10 ** (tilt_db * ramp / 20)
        shaped = np.fft.irfft(spectrum, 2 * n)[:n]
    if tremolo:
        shaped = shaped * (1 + tremolo * np.sin(2 * np.pi * TREMOLO_HZ *
                                                 np.arange(n) / SAMPLE_RATE))
    k = max(1, min(int(EDGE_S * SAMPLE_RATE), n // 2))
    fade = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
    weight = np.ones(n)
    weight[:k], weight[n - k:] = fade, fade[::-1]
    out[start:end] = span + weight * (shaped - span)
    return out


def _write_wav(path: Path, pcm: np.ndarray) -> None:
    """Write 16-bit PCM via soundfile into memory, then temp file + rename (soundfile's own
    file writer syncs to disk on close, which costs more than the synthesis)."""
    buf = io.BytesIO()
    sf.write(buf, pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    atomic_write_bytes(path, buf.getvalue())


def _alignment_rows(words: list[Segment], phones: list[Segment], phone_word: list[int],
                    offset: float, n_frames: int
                    ) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """Word and phone rows (start frame, end frame inclusive, token) tiling the whole file.

    Times are the synthesiser's, shifted by the leading silence and rounded to 10 ms frames.
    A gap of fewer than MIN_PAUSE_FRAMES frames before a word goes to that word's first
    phone; a longer one becomes a `<sil>` row (and a `SIL` phone). Every row has >= 1 frame.
    """
    by_word: list[list[Segment]] = [[] for _ in words]
    for seg, k in zip(phones, phone_word, strict=True):
        by_word[k].append(seg)
    wd: list[tuple[int, int, str]] = []
    ph_raw: list[tuple[int, int, str, int, int]] = []  # start, end, phone, word index, n
    cursor = 0
    for k, w in enumerate(words):
        start = max(int(round((w.start + offset) * 100)), cursor)
        if start - cursor < MIN_PAUSE_FRAMES and k:
            start = cursor
        if start > cursor:
            wd.append((cursor, start - 1, "<s>" if k == 0 else "<sil>"))
        segs = by_word[k]
        # Inner phone boundaries, forced increasing with at least one frame per phone.
        bounds = [start]
        for seg in segs[1:]:
            bounds.append(max(int(round((seg.start + offset) * 100)), bounds[-1] + 1))
        end = max(int(round((w.end + offset) * 100)), bounds[-1] + 1)
        bounds.append(end)
        wd.append((start, end - 1, w.token.upper()))
        for j, seg in enumerate(segs):
            ph_raw.append((bounds[j], bounds[j + 1] - 1, seg.token, j, len(segs)))
        cursor = end
    if cursor > n_frames - 1:
        raise WiseError(None, "speech runs past the end of the audio")
    wd.append((cursor, n_frames - 1, "</s>"))

    ph: list[tuple[int, int, str]] = []
    silences = [(s, e) for s, e, t in wd if t in ("<s>", "<sil>", "</s>")]
    events = sorted([(s, e, "SIL", -1, 0) for s, e in silences] + ph_raw)
    for i, (s, e, tok, j, n) in enumerate(events):
        if tok == "SIL":
            ph.append((s, e, "SIL"))
            continue
        left = events[i - 1][2] if i else "SIL"
        right = events[i + 1][2] if i + 1 < len(events) else "SIL"
        pos = "s" if n == 1 else "b" if j == 0 else "e" if j == n - 1 else "i"
        ph.append((s, e, f"{tok}({left},{right}){pos}"))
    return wd, ph


def _seg_file(rows: list[tuple[int, int, str]], kind: str, frame_scores: np.ndarray) -> str:
    lines = [f" SFrm  EFrm    SegAScr {kind}"]
    total = 0
    for s, e, tok in rows:
        score = -int(round(float(frame_scores[s: e + 1].sum())))
        total += score
        lines.append(f"{s:5d} {e:5d} {score:10d} {tok}")
    lines.append(f" Total score:  {total}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Dialog-level files, written once all utterances of the corpus exist.


def _emo_block(it: dict, start: float, end: float) -> list[str]:
    label = it["label_written"]
    # Two evaluators' integer ratings around the written label's means (1..5).
    vad = np.clip(np.round(np.array(VAD_MEANS[label]) + np.array(it["vad_noise"])), 1, 5)
    v, a, d = vad.mean(axis=0)
    lines = [f"[{start:.4f} - {end:.4f}]\t{it['id']}\t{label}\t[{v:.4f}, {a:.4f}, {d:.4f}]"]
    names = list(CATEGORY_NAMES.values())
    r = it["evaluators"]
    if label == "xxx":  # no majority: three different categories
        picked = [names[int(x * len(names))] for x in r]
        picked = list(dict.fromkeys(picked + names))[:3]
    else:
        own = CATEGORY_NAMES[label]
        third = own if r[0] < 0.6 else names[int(r[1] * len(names))]
        picked = [own, own, third]
    for k, cat in enumerate(picked, 1):
        lines.append(f"C-E{k}:\t{cat};\t()")
    for k, (val, act, dom) in enumerate(vad.astype(int).tolist(), 1):
        lines.append(f"A-E{k}:\tval {val}; act {act}; dom  {dom};\t()")
    return lines


def _write_dialogs(root: Path, items: list[dict], durations: dict[str, float]) -> None:
    dialogs: dict[str, list[dict]] = {}
    for it in items:
        dialogs.setdefault(it["dialog"], []).append(it)
    for dialog, its in dialogs.items():
        session_dir = root / f"Session{int(its[0]['session'][3:])}" / "dialog"
        t = 0.0
        emo = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        trans = []
        for it in its:
            start = t + it["gap_before"]
            end = start + durations[it["id"]]
            t = end
            emo += _emo_block(it, start, end) + [""]
            trans.append(f"{it['id']} [{start:08.4f}-{end:08.4f}]: {it['text']}")
        atomic_write_text(session_dir / "EmoEvaluation" / f"{dialog}.txt", "\n".join(emo))
        atomic_write_text(session_dir / "transcriptions" / f"{dialog}.txt",
                          "\n".join(trans) + "\n")


_META_KEYS = ("id", "dialog", "session", "speaker", "voice", "type", "label_written",
              "clean_label", "text", "ssml", "pivot", "pivot_group", "pattern", "foil",
              "foil_group", "distractor", "distractor_pattern", "pattern_signal",
              "distractor_signal", "prosody_key", "prosody", "pauses_ms", "snr_db")


def _meta_row(it: dict, duration: float) -> str:
    row = {k: it[k] for k in _META_KEYS}
    row["label"] = row.pop("label_written")
    row["label_noise"] = it["type"] != "nontarget" and (
        {"exc": "hap"}.get(row["label"], row["label"]) != it["clean_label"])
    row["duration"] = round(duration, 4)
    return json.dumps(row, sort_keys=True)


def _prepare_out_dir(root: Path) -> None:
    """Refuse a non-empty folder that is not an earlier synthetic corpus; clear one that is."""
    if root.exists() and not root.is_dir():
        raise WiseError(root, "output path exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not (root / META_FILE).is_file():
            raise WiseError(root, f"folder is not empty and holds no {META_FILE}: "
                            "refusing to write a corpus into it")
        (root / META_FILE).unlink()
        for session in root.glob("Session[1-5]"):
            shutil.rmtree(session)
    root.mkdir(parents=True, exist_ok=True)


class CorpusSummary(TypedDict):
    """What `generate` hands back (and `wise synth` prints)."""

    out_dir: str
    seed: int
    n_utterances: int
    labels: dict[str, int]          # as written, "exc" included
    sessions: dict[str, int]
    speakers: dict[str, int]
    types: dict[str, int]           # utterances per utterance type (docs/synthetic-corpus.md)
    label_noise: int                # rows given another label on purpose (label noise)
    audio_seconds: float
    audio_hours: float
    elapsed_seconds: float


def generate(out_dir: str | Path, n_utterances: int = 2000, seed: int = 0,
             workers: int | None = None, progress: bool = True) -> CorpusSummary:
    """Write a synthetic corpus of `n_utterances` rows in the IEMOCAP layout under `out_dir`.

    Same seed -> byte-identical files, whatever `workers` is (default: the CPU count).
    With more than one worker, processes are spawned: a script calling this must do so
    under `if __name__ == "__main__":`.
    `synthetic_meta.jsonl` is written last, so a corpus without it is incomplete. Returns a
    summary: counts per label, session, speaker and type, seconds of audio, elapsed seconds.
    """
    from wise.progress import progress_bar

    if n_utterances < 1:
        raise WiseError(None, f"n_utterances must be at least 1, got {n_utterances}")
    t0 = time.perf_counter()
    root = Path(out_dir)
    _prepare_out_dir(root)
    items = _plan(n_utterances, seed)
    jobs = [(str(root), seed, it) for it in items]
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    bar = progress_bar(total=len(items), disable=not progress, desc="synthesising", unit="utt")
    durations: dict[str, float] = {}
    if workers == 1:
        results = map(_render, jobs)
        for r in results:
            durations[r["id"]] = r["duration"]
            bar.update()
    else:
        # spawn, not fork: each worker loads its own espeak instead of inheriting the
        # parent's global library state (or a parent's threads).
        for _, r in imap(_render, jobs, workers=workers, chunksize=8):
            durations[r["id"]] = r["duration"]
            bar.update()
    bar.close()
    _write_dialogs(root, items, durations)
    atomic_write_text(root / META_FILE,
                      "".join(_meta_row(it, durations[it["id"]]) + "\n" for it in items))
    seconds = sum(durations.values())
    return {
        "out_dir": str(root),
        "seed": seed,
        "n_utterances": len(items),
        "labels": dict(sorted(Counter(it["label_written"] for it in items).items())),
        "sessions": dict(sorted(Counter(it["session"] for it in items).items())),
        "speakers": dict(sorted(Counter(it["speaker"] for it in items).items())),
        "types": dict(sorted(Counter(it["type"] for it in items).items())),
        "label_noise": sum(1 for it in items if it["type"] != "nontarget" and
                           {"exc": "hap"}.get(it["label_written"], it["label_written"])
                           != it["clean_label"]),
        "audio_seconds": round(seconds, 3),
        "audio_hours": round(seconds / 3600, 4),
        "elapsed_seconds": round(time.perf_counter() - t0, 3),
    }


def from_synthetic_corpus(audio: str | Path) -> bool:
    """Is `audio` a file of a corpus made by `generate` (a folder at most four levels up, the
    IEMOCAP layout's depth, holds META_FILE)? Tells a synthetic-trained model's user when it
    hears something else."""
    p = Path(os.path.abspath(audio))
    return any((parent / META_FILE).is_file() for parent in list(p.parents)[:5])
