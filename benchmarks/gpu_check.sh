#!/usr/bin/env bash
# The GPU path in one go, on a machine with a CUDA GPU and the package installed
# (pip install -e ".[test]" over a CUDA build of torch; see the README):
#
#     bash benchmarks/gpu_check.sh            # from anywhere: it works in its checkout
#
# 1. `pytest -m gpu` (training on CUDA in fp32 and bf16, CUDA predictions against the CPU's,
#    the pinned-memory prefetch, DDP over nccl when there are 2 GPUs);
# 2. benchmarks/timing/bench_train.py on IEMOCAP-sized random features: 2 epochs on cuda in fp32, in
#    bf16, and on the CPU; the last epoch's seconds count (the first includes CUDA warm-up).
# Prints one line of figures; with $OUT set, also writes $OUT/gpu_check.json and the logs.
# Every step has a time limit (150 + 120 + 120 + 90 s), so it ends within 8 minutes. Exit
# status 0 when the tests pass and every benchmark ran, 1 otherwise, 2 without a usable GPU.
# PYTHON=... picks the interpreter (default: python).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "gpu_check: error: $*" >&2
    exit 2
}

command -v timeout >/dev/null || fail "the 'timeout' command (coreutils) is missing"
"$PY" -c "import wise, pytest" 2>/dev/null \
    || fail "$PY cannot import wise and pytest: pip install -e '.[test]' first"
gpu=$("$PY" -c "import torch; assert torch.cuda.is_available(); print(torch.cuda.get_device_name(0))" \
      2>/dev/null) \
    || fail "torch.cuda.is_available() is False with $PY: no GPU, or a CPU-only torch (README: GPU users)"
versions=$("$PY" -c "import torch; print(f'torch {torch.__version__} cuda {torch.version.cuda}')")
echo "gpu_check: $gpu, $versions" >&2

echo "gpu_check: [1/4] pytest -m gpu" >&2
tests=pass
timeout 150 "$PY" -m pytest -m gpu -p no:cacheprovider -rs tests >"$work/pytest.log" 2>&1 \
    || tests=fail
pytest_summary=$(tail -n 1 "$work/pytest.log")
echo "gpu_check: $pytest_summary" >&2

bench() {  # DEVICE PRECISION LIMIT_S -> the last epoch's seconds, or "failed"
    local name="$1-$2"
    if timeout "$3" "$PY" benchmarks/timing/bench_train.py --skip-cv --epochs 2 --utterances 4400 \
            --device "$1" --precision "$2" --out "$work/bench-$name.json" \
            >"$work/bench-$name.log" 2>&1; then
        "$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['epoch_seconds'][-1])" \
            "$work/bench-$name.json"
    else
        echo failed
    fi
}

echo "gpu_check: [2/4] bench_train cuda fp32" >&2
fp32=$(bench cuda fp32 120)
echo "gpu_check: [3/4] bench_train cuda bf16" >&2
bf16=$(bench cuda bf16 120)
echo "gpu_check: [4/4] bench_train cpu fp32" >&2
cpu=$(bench cpu fp32 90)

line="gpu_check: $gpu tests=$tests ($pytest_summary) epoch_s fp32=$fp32 bf16=$bf16 cpu=$cpu"
if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT"
    cp "$work"/*.log "$OUT"/
    "$PY" - "$work" "$OUT/gpu_check.json" "$gpu" "$versions" "$tests" "$pytest_summary" "$line" <<'EOF'
import json
import sys
from pathlib import Path

work, out, gpu, versions, tests, summary, line = sys.argv[1:]
bench = {p.stem.removeprefix("bench-"): json.loads(p.read_text())
         for p in sorted(Path(work).glob("bench-*.json"))}
Path(out).write_text(json.dumps({"gpu": gpu, "versions": versions, "tests": tests,
                                 "pytest": summary, "line": line, "bench": bench},
                                indent=2) + "\n")
EOF
fi
echo "$line"
[[ $tests == pass && $fp32 != failed && $bf16 != failed && $cpu != failed ]] || exit 1
