"""Results of `wise cv` runs as the paper's tables, and the README's results table.

Input: the `summary.json` of one or more runs (one run = one config = one table row).
Output, as data and text: the table (`results_table`, what `results.json` holds: the README's
table is generated from it) and `results.md` (`table_markdown`: Table 1 rows, then Table 2
rows, then rows beyond the paper, each with our WA/UA mean ± std over every (seed, fold), the
paired UA difference against WISE with its 95% interval (`wise.stats`), and the paper's
numbers). The figures beside them are drawn by `wise.plots`; `wise.pipeline.write_report`
writes all four files.

Rows are only comparable when they were scored the same way. The report picks a reference
setting (that of the WISE row when there is one, else the most common one) and flags every row
whose protocol, subset, manifest, word vectors or training settings differ from it.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.labels import LABELS
from wise.metrics import recalls
from wise.results import CVSummary
from wise.stats import PairedDifference, compare_runs


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 1 or 2 (IEMOCAP, 4 classes, 5-fold CV)."""

    display: str
    table: int
    wa: float
    ua: float


# Keyed by our config names (configs/<name>.yaml); in the paper's row order.
PAPER: dict[str, PaperRow] = {
    "audio_only": PaperRow("Audio only", 1, 0.665, 0.657),
    "text_only": PaperRow("Text only", 1, 0.692, 0.701),
    "lstm_attn": PaperRow("LSTM+Attn (Xu et al. 2019)", 1, 0.725, 0.709),
    "cnn_phoneme": PaperRow("CNN+Phoneme (Yenigalla et al. 2018)", 1, 0.739, 0.685),
    "mdre": PaperRow("Dual RNNs / MDRE (Yoon et al. 2018)", 1, 0.737, 0.753),
    "wise": PaperRow("WISE", 1, 0.759, 0.764),
    "im_dmf": PaperRow("IM+DMF (no HR)", 2, 0.729, 0.742),
    "hr_dmf": PaperRow("HR+DMF (no IM)", 2, 0.734, 0.741),
    "im_hr": PaperRow("IM+HR (no attention)", 2, 0.752, 0.736),
    "im_dmf_hr_minus": PaperRow("IM+DMF+HR⁻ (no phone level)", 2, 0.743, 0.754),
}

# Display names of our rows that the paper tried but gives no numbers for (Sec. 3.2), or
# that test a reading of the paper (docs/training.md, "Two readings the paper leaves open").
EXTRA_NAMES: dict[str, str] = {
    "hr_lstm": "WISE, HR cell LSTM",
    "hr_bilstm": "WISE, HR cell BiLSTM",
    "hr_bigru": "WISE, HR cell BiGRU",
    "swap_inputs": "WISE, eqs (4)/(5) as printed",
    "egemaps_svm": "eGeMAPS + SVM (classic baseline, audio only)",
    "wise_plus": "WISE+ (per-speaker normalisation, utterance functionals; real speech)",
    "wise_whisper": "WISE over Whisper's encoder frames (real speech)",
    "whisper_probe": "Whisper encoder mean+std + logistic regression (the probe)",
}

GROUPS = {1: "Table 1: comparison with other models",
          2: "Table 2: ablations of WISE (compare with the WISE row)",
          3: "Beyond the paper"}

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"

# What makes two rows' numbers comparable: the same data, split and subset...
SETTING_KEYS = ("manifest", "n_utterances", "protocol", "subset", "word_vectors")
# ...and the same training and feature settings (the device only changes rounding).
IGNORED_CONFIG_KEYS = {"train.device", "cv.protocol", "cv.subset"}

# What two rows must share for their (seed, fold) scores to pair up: the same rows and folds.
PAIRING_KEYS = ("manifest", "n_utterances", "protocol", "subset", "cv.folds", "cv.split_seed")

REQUIRED_KEYS = ("name", "wa_mean", "wa_std", "ua_mean", "ua_std", "folds", "confusion",
                 "protocol", "subset", "manifest", "n_utterances", "n_params", "word_vectors",
                 "word_dim")


def display_name(name: str) -> str:
    if name in PAPER:
        return PAPER[name].display
    return EXTRA_NAMES.get(name, name)


def load_summaries(run_dirs: Iterable[str | Path]) -> list[CVSummary]:
    """Read each run's `summary.json` (a run folder or the file itself). Each returned dict
    gains `run_dir`, the folder it came from."""
    out = []
    for d in run_dirs:
        d = Path(d)
        path = d if d.suffix == ".json" else d / "summary.json"
        if not path.is_file():
            raise WiseError(path, "no summary.json here (has `wise cv` finished this run?)")
        try:
            s = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise WiseError(path, f"not valid JSON ({e})") from None
        if not isinstance(s, dict):
            raise WiseError(path, "not a wise cv summary (not a JSON object)")
        missing = [k for k in REQUIRED_KEYS if k not in s]
        if missing:
            raise WiseError(path, f"not a wise cv summary: missing {', '.join(missing)}")
        if not isinstance(s["folds"], list) or not s["folds"]:
            raise WiseError(path, "summary has no folds")
        out.append({**s, "run_dir": str(path.parent)})
    return out


def format_score(x: float | None) -> str:
    """.759 the way the paper prints it (no leading zero); a dash for a missing number."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    s = f"{x:.3f}"
    return s[1:] if s.startswith("0.") else s


def format_mean_std(mean: float | None, std: float | None) -> str:
    """`.759 ± .012`."""
    return f"{format_score(mean)} ± {format_score(std)}"


def _flat_config(s: CVSummary) -> dict[str, object]:
    cfg = s.get("config") or {}
    flat = {}
    for section in ("features", "train", "cv"):
        values = dict(cfg.get(section) or {})
        if section == "train" and cfg:
            # `TrainConfig.key_fields` leaves it out of a run's config when rows were held out.
            values.setdefault("validation", "rows")
        for k, v in values.items():
            key = f"{section}.{k}"
            if key not in IGNORED_CONFIG_KEYS:
                flat[key] = v
    return flat


def _setting(s: CVSummary) -> dict[str, object]:
    return {**{k: s.get(k) for k in SETTING_KEYS}, **_flat_config(s)}


def _frozen(setting: dict) -> str:
    return json.dumps(setting, sort_keys=True, default=str)


def _order(summaries: Sequence[CVSummary]) -> list[CVSummary]:
    """Paper rows in the paper's order, then the others in the order given."""
    rank = {name: i for i, name in enumerate(PAPER)}
    return sorted(summaries, key=lambda s: rank.get(s["name"], len(rank)))


def _reference(summaries: Sequence[CVSummary]) -> dict[str, object]:
    wise = [s for s in summaries if s["name"] == "wise"]
    if wise:
        return _setting(wise[0])
    counts = Counter(_frozen(_setting(s)) for s in summaries)
    best = max(counts.values())
    first = next(s for s in summaries if counts[_frozen(_setting(s))] == best)
    return _setting(first)


def _non_default(setting: dict[str, object]) -> list[str]:
    """Training/feature/CV settings that differ from the project's defaults, so a table made
    from short runs (say max_epochs=1) says so in its header."""
    from wise.config import CVConfig, FeatureConfig, TrainConfig

    defaults = {}
    for section, cls in (("features", FeatureConfig), ("train", TrainConfig), ("cv", CVConfig)):
        defaults.update({f"{section}.{k}": v for k, v in asdict(cls()).items()})
    defaults["train.validation"] = _auto_validation(setting)
    out = []
    for k, v in setting.items():
        if k in defaults and _frozen({"v": v}) != _frozen({"v": defaults[k]}):
            out.append(f"{k}={v}")
    return out


def _auto_validation(setting: dict[str, object]) -> str:
    """What `validation: auto` (the default) holds out under the setting's protocol."""
    from wise.config import SPEAKER_INDEPENDENT

    return "speakers" if setting.get("protocol") in SPEAKER_INDEPENDENT else "rows"


def _validation_words(ref: dict[str, object]) -> str:
    """How the reference row chose its epoch, the way the header says it."""
    split = ref.get("train.validation", "rows")
    held = {"speakers": "whole training speakers",
            "rows": "training rows (their speakers also train)"}.get(str(split), str(split))
    return f"early stopping on held-out {held} (`validation: {split}`)"


def _is_iemocap(corpus_name: str) -> bool:
    return re.match(r"\s*iemocap\b", corpus_name, re.IGNORECASE) is not None


def _recall(confusion: list[list[int]]) -> dict[str, float | None]:
    r = recalls(np.asarray(confusion, dtype=float))
    return {lab: (None if np.isnan(x) else float(x)) for lab, x in zip(LABELS, r, strict=True)}


class ResultsTable(TypedDict):
    """`results_table`: what `results.json` holds, and what the markdown and figures read."""

    corpus: str
    comparable_to_paper: bool           # the corpus is IEMOCAP, as the paper's numbers are
    reference: dict[str, object]        # the setting every row is checked against
    non_default: list[str]              # its settings that differ from the defaults
    code_versions: dict[str, list[str]]     # code version -> the rows it ran
    word_vectors: list[dict]            # {"name", "dim", "rows"}
    rows: list[dict]                    # table order; a paper row not run has "run": False


def results_table(summaries: Sequence[CVSummary], corpus_name: str) -> ResultsTable:
    """The table as data (what `results.json` holds): the reference setting, and one row per
    paper row (run or not) and per extra run, in table order, each with its mismatches."""
    if not summaries:
        raise WiseError(None, "no runs to report")
    ordered = _order(summaries)
    ref = _reference(ordered)
    names = Counter(s["name"] for s in ordered)
    rows = []
    by_name: dict[str, list[CVSummary]] = {}
    for s in ordered:
        by_name.setdefault(s["name"], []).append(s)
    wise = by_name.get("wise", [None])[0]
    for name, p in PAPER.items():
        if name not in by_name:
            rows.append({"name": name, "display": p.display, "table": p.table, "run": False,
                         "paper_wa": p.wa, "paper_ua": p.ua})
            continue
        rows += [_row(s, ref, names, wise) for s in by_name[name]]
    rows += [_row(s, ref, names, wise) for s in ordered if s["name"] not in PAPER]
    versions: dict[str, list[str]] = {}
    vectors: dict[tuple[str, int], list[str]] = {}
    for s in ordered:
        versions.setdefault(str(s.get("code_version", "unknown")), []).append(s["name"])
        vectors.setdefault((s["word_vectors"], s["word_dim"]), []).append(s["name"])
    return {"corpus": corpus_name, "comparable_to_paper": _is_iemocap(corpus_name),
            "reference": ref, "non_default": _non_default(ref), "code_versions": versions,
            "word_vectors": [{"name": name, "dim": dim, "rows": names}
                             for (name, dim), names in vectors.items()],
            "rows": rows}


def vectors_label(name: str, dim: int) -> str:
    """`glove-6b-50d` (50-d), the way the tables name a run's word vectors."""
    return f"`{name}` ({dim}-d)"


def _vs_wise(s: CVSummary, wise: CVSummary | None) -> PairedDifference | None:
    """The row's paired UA difference against the WISE run, when both were scored on the same
    rows and folds and share at least 2 (seed, fold) pairs."""
    if wise is None or s is wise:
        return None
    a, b = _setting(s), _setting(wise)
    if any(_frozen({"v": a.get(k)}) != _frozen({"v": b.get(k)}) for k in PAIRING_KEYS):
        return None
    return compare_runs(s, wise)


def _row(s: CVSummary, ref: dict[str, object], names: Counter,
         wise: CVSummary | None) -> dict:
    setting = _setting(s)
    mismatch = [f"{k}={setting.get(k)} (reference: {ref.get(k)})"
                for k in sorted(set(setting) | set(ref))
                if _frozen({"v": setting.get(k)}) != _frozen({"v": ref.get(k)})]
    display = display_name(s["name"])
    if names[s["name"]] > 1:          # the same config run twice: tell the runs apart
        display += f" ({Path(s['run_dir']).name})"
    p = PAPER.get(s["name"])
    return {"name": s["name"], "display": display, "table": p.table if p else 3, "run": True,
            "run_dir": s["run_dir"], "wa_mean": s["wa_mean"], "wa_std": s["wa_std"],
            "ua_mean": s["ua_mean"], "ua_std": s["ua_std"],
            "pooled_wa": s.get("pooled_wa"), "pooled_ua": s.get("pooled_ua"),
            "paper_wa": p.wa if p else None, "paper_ua": p.ua if p else None,
            "ua_fold_std": s.get("ua_fold_std"), "ua_seed_std": s.get("ua_seed_std"),
            "vs_wise": _vs_wise(s, wise),
            "n_params": s["n_params"], "n_folds": len({f["test"] for f in s["folds"]}),
            "n_seeds": len({f.get("seed", 0) for f in s["folds"]}),
            "folds": [{k: f.get(k) for k in ("seed", "test", "wa", "ua", "n")}
                      for f in s["folds"]],
            "recall": _recall(s["confusion"]), "confusion": s["confusion"],
            "code_version": s.get("code_version"), "mismatch": mismatch,
            **{k: s.get(k) for k in SETTING_KEYS}, "word_dim": s["word_dim"]}


def _header_lines(table: ResultsTable) -> list[str]:
    ref = table["reference"]
    corpus = table["corpus"]
    lines = [
        f"Corpus: **{corpus}** ({ref['n_utterances']} utterances, manifest "
        f"`{ref['manifest']}`); protocol: **{_protocol_words(ref)}**; subset: "
        f"**{ref['subset']}**; {_vectors_line(table)}; {_validation_words(ref)}.",
    ]
    versions = table["code_versions"]
    if len(versions) == 1:
        lines.append(f"Code version: `{next(iter(versions))}`.")
    else:
        lines.append("Code versions differ between rows: " + "; ".join(
            f"`{v}` ({', '.join(n)})" for v, n in versions.items()) + ".")
    if table["non_default"]:
        lines.append("Settings that differ from the defaults: "
                     + ", ".join(f"`{x}`" for x in table["non_default"]) + ".")
    lines.append(f"Ours: mean ± std over {_runs_span(table)} (a spread, not a confidence "
                 "interval). WA = accuracy over utterances; UA = mean per-class recall. "
                 "Δ UA vs WISE: the mean paired UA difference over the same (seed, fold) "
                 "runs, with its 95% interval corrected for the folds' overlapping training "
                 "sets (Nadeau & Bengio 2003); a row is called better or worse than WISE only "
                 "when the interval excludes 0, otherwise no difference is shown.")
    lines.append(chance_words(n_classes(table)))
    if table["comparable_to_paper"]:
        lines.append("Paper: Shen et al. 2020 on IEMOCAP, \"5-fold CV\" whose split the paper "
                     "does not state, 300-d GloVe; compare with care when our protocol or word "
                     "vectors differ.")
    else:
        lines.append(f"The paper's numbers are on IEMOCAP; ours are on {corpus}. The corpora "
                     "differ, so the two sets of numbers are **not comparable**: the paper "
                     "columns show the table's shape and the ordering to expect, nothing more.")
    return lines


def n_classes(table: ResultsTable) -> int:
    """How many classes the table's runs tell apart: the width of their confusion matrices
    (the label set's size when no row has run)."""
    run = [r for r in table["rows"] if r["run"]]
    return len(run[0]["confusion"]) if run else len(LABELS)


def chance_ua(n: int) -> float:
    """UA at chance with `n` classes: answering always one class, or at random, recalls 1/n
    of each class on average."""
    return 1 / n


def chance_words(n: int) -> str:
    """The header's chance line: "Chance: UA .25 for 4 classes ..."."""
    # .25, not the table's .250: the exact value, with no digits it does not have.
    ua = format_score(chance_ua(n)).rstrip("0")
    return (f"Chance: UA {ua} for {n} classes (1/{n}: what always answering one class, or "
            "guessing, scores); WA at chance depends on the class balance.")


def _vectors_line(table: ResultsTable) -> str:
    """The word vectors of the runs and their width, per row when the rows differ."""
    groups = table["word_vectors"]
    if len(groups) > 1:
        return "word vectors differ between rows: " + "; ".join(
            f"{vectors_label(g['name'], g['dim'])} ({', '.join(g['rows'])})" for g in groups)
    dim = groups[0]["dim"]
    narrower = (" — narrower than the paper's 300-d GloVe: every row that reads text has a "
                "narrower text input and fewer parameters than in the paper"
                if dim and dim < 300 else "")
    return f"word vectors: {vectors_label(groups[0]['name'], dim)}{narrower}"


def _runs_span(table: ResultsTable) -> str:
    """"3 seeds × 5 folds", from the rows that were run (a range when they differ)."""
    run = [r for r in table["rows"] if r["run"]]
    def span(key: str) -> str:
        lo, hi = min(r[key] for r in run), max(r[key] for r in run)
        return str(lo) if lo == hi else f"{lo}–{hi}"
    seeds = span("n_seeds")
    return f"{seeds} seed{'' if seeds == '1' else 's'} × {span('n_folds')} folds"


def _signed(x: float) -> str:
    """+.053 / −.129, the way the table prints its other numbers."""
    return ("−" if x < 0 else "+") + format_score(abs(x))


def format_delta(v: dict | None) -> str:
    """A paired difference (`wise.stats`) as `−.129 [−.193, −.066] **worse**`."""
    if v is None:
        return "—"
    lo, hi = v["ci95"]
    cell = f"{_signed(v['mean'])} [{_signed(lo)}, {_signed(hi)}]"
    return cell + {"better": " **better**", "worse": " **worse**"}.get(v["verdict"], "")


def _protocol_words(setting: dict) -> str:
    if setting.get("protocol") == "session":
        return "leave one session out (speaker-independent)"
    if setting.get("protocol") == "speaker_groups":
        return (f"{setting.get('cv.folds', 5)} folds of whole speakers, balanced by class and "
                "sex (speaker-independent)")
    if setting.get("protocol") == "random":
        return f"stratified random {setting.get('cv.folds', 5)}-fold (speakers shared)"
    return str(setting.get("protocol"))


def _table_lines(table: ResultsTable) -> list[str]:
    lines = ["| Model | WA (ours) | UA (ours) | Δ UA vs WISE [95% CI] | WA (paper) | "
             "UA (paper) | Parameters |", "|---|---|---|---|---|---|---|"]
    notes = []
    group = None
    for r in table["rows"]:
        if r["table"] != group:
            group = r["table"]
            lines.append(f"| *{GROUPS[group]}* | | | | | | |")
        model = r["display"]
        if not r["run"]:
            lines.append(f"| {model} | not run | — | — | {format_score(r['paper_wa'])} | "
                         f"{format_score(r['paper_ua'])} | — |")
            continue
        if r["mismatch"]:
            notes.append(r)
            model += f" †{len(notes)}"
        lines.append(f"| {model} | {format_mean_std(r['wa_mean'], r['wa_std'])} | "
                     f"{format_mean_std(r['ua_mean'], r['ua_std'])} | "
                     f"{format_delta(r['vs_wise'])} | {format_score(r['paper_wa'])} | "
                     f"{format_score(r['paper_ua'])} | {r['n_params']:,} |")
    if notes:
        lines.append("")
        lines.append("Rows marked † were evaluated differently from the reference setting "
                     "above; their numbers do not compare directly with the other rows:")
        lines.append("")
        for i, r in enumerate(notes, 1):
            lines.append(f"- †{i} {r['display']}: " + "; ".join(r["mismatch"]))
    return lines


def table_markdown(table: ResultsTable) -> str:
    """`results.md` from the table (`results_table`)."""
    lines = ["# Results", ""]
    lines += [*(f"- {h}" for h in _header_lines(table)), "", *_table_lines(table), ""]
    run = [r for r in table["rows"] if r["run"]]
    lines += ["## Per-class recall (pooled over folds)", "",
              "| Model | " + " | ".join(LABELS) + " | pooled WA | pooled UA |",
              "|---|" + "---|" * (len(LABELS) + 2)]
    for r in run:
        lines.append(f"| {r['display']} | "
                     + " | ".join(format_score(r["recall"][lab]) for lab in LABELS)
                     + f" | {format_score(r['pooled_wa'])} | {format_score(r['pooled_ua'])} |")
    lines += ["", "## Where the spread comes from (UA)", "",
              "Fold std: over the folds, of each fold's mean over seeds (which speakers are "
              "tested). Seed std: over the seeds of one fold, averaged over folds (training "
              "noise; 0 with one seed).", "",
              "| Model | UA | fold std | seed std |", "|---|---|---|---|"]
    for r in run:
        lines.append(f"| {r['display']} | {format_score(r['ua_mean'])} | "
                     f"{format_score(r['ua_fold_std'])} | {format_score(r['ua_seed_std'])} |")
    lines += ["", "## Per fold (WA / UA, mean over seeds)", ""]
    tests = list(dict.fromkeys(f["test"] for r in run for f in r["folds"]))
    lines += ["| Model | " + " | ".join(tests) + " |", "|---|" + "---|" * len(tests)]
    for r in run:
        by_test: dict[str, list[dict]] = {}
        for f in r["folds"]:
            by_test.setdefault(f["test"], []).append(f)
        cell = {t: f"{format_score(np.mean([f['wa'] for f in fs]))} / "
                   f"{format_score(np.mean([f['ua'] for f in fs]))}" for t, fs in by_test.items()}
        lines.append(f"| {r['display']} | " + " | ".join(cell.get(t, "—") for t in tests) + " |")
    lines += ["", "## Plots", "",
              "WA and UA per row, the paper's numbers as markers ([rows.png](rows.png)), and "
              "the pooled confusion matrix of every row ([confusions.png](confusions.png)):", "",
              "![WA and UA per row](rows.png)", "", "![Confusion matrices](confusions.png)"]
    lines += ["", "## Runs", ""]
    lines += [f"- {r['display']}: `{r['run_dir']}` ({r['n_seeds']} seed"
              f"{'' if r['n_seeds'] == 1 else 's'} × {r['n_folds']} folds, code "
              f"`{r['code_version']}`)" for r in run]
    return "\n".join(lines) + "\n"


def results_markdown(summaries: Sequence[CVSummary], corpus_name: str) -> str:
    """`results.md`: the header (corpus, protocol, subset, size, word vectors, code version),
    the paper-shaped table with flagged mismatches, per-class recall, per-fold scores."""
    return table_markdown(results_table(summaries, corpus_name))


def _load_table(results_json: str | Path | ResultsTable) -> ResultsTable:
    if isinstance(results_json, dict):
        return results_json
    path = Path(results_json)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WiseError(path, "not found (write it with `wise report`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WiseError(path, f"not valid JSON ({e})") from None
    if not isinstance(table, dict) or not set(ResultsTable.__annotations__) <= set(table):
        raise WiseError(path, "not a wise results.json (it lacks "
                              f"{', '.join(sorted(set(ResultsTable.__annotations__)))})")
    return table


def readme_table(results_json: str | Path | dict) -> str:
    """The README's results section: header lines and the table, from a results.json."""
    table = _load_table(results_json)
    source = "" if isinstance(results_json, dict) else f" from `{results_json}`"
    lines = [f"<!-- generated{source} by `wise report`; do not edit by hand -->", "",
             *(f"- {h}" for h in _header_lines(table)), "", *_table_lines(table)]
    return "\n".join(lines) + "\n"


def update_readme(readme_path: str | Path, results_json: str | Path | dict) -> bool:
    """Replace what lies between the results markers in the README with `readme_table`.
    Returns whether the file changed; raises WiseError (and writes nothing) when the markers
    are absent, repeated or out of order."""
    path = Path(readme_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WiseError(path, "not found") from None
    starts, ends = text.count(README_START), text.count(README_END)
    if starts != 1 or ends != 1 or text.index(README_START) > text.index(README_END):
        raise WiseError(path, f"needs exactly one {README_START} line followed by one "
                              f"{README_END} line around the results table")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    new = f"{head}{README_START}\n{readme_table(results_json)}{README_END}{tail}"
    if new == text:
        return False
    atomic_write_text(path, new)
    return True


def table_configs(config_dir: str | Path) -> list[Path]:
    """The YAML configs of `config_dir` in table order: the paper's rows first, then the
    rest by name. A paper row without a YAML file is left out (and shows as "not run")."""
    config_dir = Path(config_dir)
    found = {p.stem: p for p in sorted(config_dir.glob("*.yaml"))}
    if not found:
        raise WiseError(config_dir, "no .yaml configs here")
    return [found[n] for n in PAPER if n in found] + [p for n, p in found.items()
                                                       if n not in PAPER]
