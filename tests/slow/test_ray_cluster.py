"""`--ray` on a real two-node Ray cluster on this machine, on loopback only: features, a CV
with a worker killed mid-training and a node lost mid-run, an ASR study, and forced alignment
in `wise prepare` — each must give what the local run gives.

The cluster runs inside its own network namespace (`unshare -n`, see
benchmarks/faults/loopback_cluster.py), where loopback is the only interface. Where network
namespaces are not available the tests skip, unless WISE_REQUIRE_RAY=1 (CI) makes that a
failure. Ray itself is in the [test] extra: a missing Ray fails, it does not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wise.cli import main
from wise.crossval import without_timings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
WISE = [sys.executable, "-c", "import sys; from wise.cli import main; sys.exit(main())"]
TINY = ["--set", "max_epochs=3", "--set", "min_epochs=1", "--set", "batch_size=8", "--quiet"]


def _why_no_cluster() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare/ip not found: no private network namespace for the cluster"
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        return "cannot create a network namespace here (unshare -n is not permitted)"
    return None


@pytest.fixture(scope="module")
def cluster_ok():
    why = _why_no_cluster()
    if why:
        if os.environ.get("WISE_REQUIRE_RAY") == "1":
            pytest.fail(why)
        pytest.skip(why)


def on_cluster(commands: list[list[str]], *faults: str, timeout: int = 300) -> dict:
    """Run `commands` (with `{address}` for the head's) against a fresh 2-node loopback
    cluster; return the cluster's report."""
    argv = ["unshare", "-n", sys.executable, str(ROOT / "benchmarks/faults/loopback_cluster.py"),
            "--nodes", "2", "--cpus", "1", *faults, "--"]
    for i, c in enumerate(commands):
        argv += ([";;"] if i else []) + c
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    lines = [x for x in p.stdout.splitlines() if x.startswith("cluster: ")]
    assert p.returncode == 0 and lines, (p.stdout[-3000:], p.stderr[-3000:])
    return json.loads(lines[-1].removeprefix("cluster: "))


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def test_cv_and_asr_study_on_two_nodes_match_the_local_run(cluster_ok, tmp_path):
    corpus, manifest = tmp_path / "corpus", tmp_path / "m.jsonl"
    assert main(["synth", str(corpus), "--utterances", "60", "--seed", "3", "--workers", "1",
                 "--quiet"]) == 0
    assert main(["prepare", "iemocap", str(corpus), "--out", str(manifest), "--quiet"]) == 0
    rows = manifest.read_text().splitlines()
    small = tmp_path / "small.jsonl"      # two utterances of each of three sessions
    small.write_text("\n".join(r for s in ("Ses01", "Ses02", "Ses03")
                               for r in [r for r in rows if f'"{s}' in r][:2]) + "\n")

    def cv(out: str, cache: str, *extra: str) -> list[str]:
        return ["cv", "--config", "wise", "--manifest", str(manifest), "--out",
                str(tmp_path / out), "--cache", str(tmp_path / cache), *TINY, *extra]

    def study(out: str, cache: str, *extra: str) -> list[str]:
        return ["asr-study", "--manifest", str(small), "--out", str(tmp_path / out),
                "--cache", str(tmp_path / cache), "--asr", "pocketsphinx", *TINY, *extra]

    assert main(cv("local", "cache_local", "--jobs", "2", "--workers", "2")) == 0
    assert main(study("study_local", "cache_local", "--workers", "2", "--jobs", "2")) == 0

    report = on_cluster(
        [[*WISE, "features", str(manifest), "--cache", str(tmp_path / "cache_ray"), "--quiet",
          "--ray", "{address}"],
         [*WISE, *cv("ray", "cache_ray", "--ray", "{address}")],
         [*WISE, *study("study_ray", "cache_ray", "--ray", "{address}")]],
        "--kill-task", "wise:train",
        "--remove-node-when", str(tmp_path / "ray" / "seed_0" / "fold_*" / "metrics.json"))
    assert report["nodes"] == 2 and report["returncodes"] == [0, 0, 0]
    assert report["killed"] and report["killed"]["title"].startswith("ray::wise:train")
    assert report["removed_node"]

    # The features Ray's tasks wrote are the local ones, bit for bit.
    packs = [next((tmp_path / c / "packs").iterdir()) for c in ("cache_local", "cache_ray")]
    for name in ("frames.npy", "word_frames.npy", "word_vectors.npy", "offsets.npy"):
        a, b = (np.load(p / name) for p in packs)
        assert np.array_equal(a, b), name

    # The CV: same summary, predictions and weights, though one training was killed and
    # retried and a node was lost while folds were in flight.
    local, ray = (json.loads((tmp_path / d / "summary.json").read_text())
                  for d in ("local", "ray"))
    assert without_timings(local) == without_timings(ray)
    assert len(ray["folds"]) == 5
    for k in range(1, 6):
        fl, fr = (tmp_path / d / "seed_0" / f"fold_{k}" for d in ("local", "ray"))
        assert (fl / "predictions.jsonl").read_bytes() == (fr / "predictions.jsonl").read_bytes()
        wl, wr = _weights(fl / "model.wise"), _weights(fr / "model.wise")
        assert all(torch.equal(wl[n], wr[n]) for n in wl)

    # The ASR study: recognition and alignment as Ray tasks, the same transcripts and scores.
    def by_id(d: str) -> dict:
        return {r["id"]: r for r in map(json.loads, (tmp_path / d / "transcripts.jsonl")
                                        .read_text().splitlines())}

    assert by_id("study_local") == by_id("study_ray") and len(by_id("study_ray")) == 6
    sl, sr = (json.loads((tmp_path / d / "results.json").read_text())
              for d in ("study_local", "study_ray"))
    assert without_timings(sl["folds"]) == without_timings(sr["folds"])


def test_prepare_aligns_on_two_nodes_as_it_does_locally(cluster_ok, tmp_path):
    """Forced alignment of real RAVDESS clips: one process, two processes and Ray tasks on
    two nodes write the same manifest."""
    root = tmp_path / "ravdess"
    shutil.copytree(FIXTURES / "ravdess", root)
    for workers in ("1", "2"):
        assert main(["prepare", "ravdess", str(root), "--out", str(tmp_path / f"w{workers}.jsonl"),
                     "--workers", workers, "--quiet"]) == 0
    report = on_cluster([[*WISE, "prepare", "ravdess", str(root), "--out",
                          str(tmp_path / "ray.jsonl"), "--quiet", "--ray", "{address}"]])
    assert report["returncodes"] == [0]
    one = (tmp_path / "w1.jsonl").read_text()
    assert '"forced"' in one and len(one.splitlines()) >= 6
    assert (tmp_path / "w2.jsonl").read_text() == one
    assert (tmp_path / "ray.jsonl").read_text() == one


def test_a_path_a_node_cannot_see_is_one_clear_error(cluster_ok, tmp_path):
    """Before any work is sent, every node is asked whether it sees the paths the tasks will
    read and write: a missing one is named, with the reason, not found task by task."""
    probe, out = tmp_path / "probe.py", tmp_path / "out.txt"
    probe.write_text("import sys\n"
                     "from wise.cluster import check_shared\n"
                     "from wise.errors import WiseError\n"
                     "try:\n"
                     "    check_shared(sys.argv[1], sys.argv[2:-1])\n"
                     "except WiseError as e:\n"
                     "    open(sys.argv[-1], 'w').write('ERROR ' + e.line())\n")
    report = on_cluster([[sys.executable, str(probe), "{address}", str(tmp_path),
                          str(tmp_path / "nowhere"), str(out)]])
    assert report["returncodes"] == [0]
    line = out.read_text().strip()
    assert line.startswith("ERROR") and "nowhere" in line and "not visible on Ray node" in line


def test_an_address_with_no_cluster_fails_at_once(mini_manifest, tmp_path, capsys):
    """Ray itself would retry for minutes; nothing listens on port 1 of loopback."""
    assert main(["features", str(mini_manifest), "--cache", str(tmp_path / "c"), "--quiet",
                 "--ray", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("wise: error: --ray 127.0.0.1:1: no Ray head answers there")
