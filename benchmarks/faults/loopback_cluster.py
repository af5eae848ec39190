"""Run commands against a real multi-node Ray cluster on this machine, on loopback only.

    unshare -n python benchmarks/faults/loopback_cluster.py [--nodes 2] [--cpus 1] \
        [--kill-task wise:train] [--remove-node-when GLOB] -- CMD ... {address} ...

Start it inside its own network namespace (`unshare -n`): there loopback is the only
interface, so every Ray node binds 127.0.0.1 and nothing leaves the machine (outside one, Ray
binds the machine's network address). The script brings loopback up, starts a head and
`--nodes - 1` more nodes (separate raylets, as `ray start` on other machines would), runs each
command (`;;` separates several) with `{address}` replaced by the head's address, and stops the
cluster, killing only its own processes. It prints one JSON line, prefixed `cluster:`, saying
what it did to the cluster.

Faults, to test recovery:
  --kill-task NAME        SIGKILL one worker process while it runs a task named NAME (Ray shows
                          a running task's name in its process title: `ray::NAME`).
  --remove-node-when GLOB remove the last non-head node once a file matching GLOB exists (e.g.
                          a fold's metrics.json): a node lost mid-run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=1, help="CPUs per node")
    ap.add_argument("--kill-task", default=None, metavar="NAME")
    ap.add_argument("--remove-node-when", default=None, metavar="GLOB")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command given")
    if subprocess.run(["ip", "link", "set", "lo", "up"]).returncode:
        print("loopback_cluster: cannot bring loopback up: run me under `unshare -n`",
              file=sys.stderr)
        return 2

    import psutil
    import ray
    from ray.cluster_utils import Cluster

    # A short private temp dir: Ray's socket paths must stay under 107 characters, and
    # another cluster on this machine must not share our session files.
    temp = tempfile.mkdtemp(prefix="wray", dir="/tmp")
    # Ray (2.60) writes the head's address to $RAY_TMPDIR/ray/ray_current_cluster (else
    # /tmp/ray/...) without making the folder: ours, made here, keeps that file private too.
    os.makedirs(os.path.join(temp, "ray"), exist_ok=True)
    os.environ["RAY_TMPDIR"] = temp
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": args.cpus, "include_dashboard": False, "temp_dir": temp})
    nodes = [cluster.add_node(num_cpus=args.cpus) for _ in range(args.nodes - 1)]
    cluster.wait_for_nodes()
    report: dict = {"address": cluster.address, "nodes": args.nodes,
                    "start_seconds": round(time.perf_counter() - t0, 1),
                    "killed": None, "removed_node": False, "returncodes": []}
    stop = threading.Event()
    watchers = []
    if args.kill_task:
        watchers.append(threading.Thread(target=_kill_one, daemon=True,
                                         args=(psutil, f"ray::{args.kill_task}", stop, report)))
    if args.remove_node_when and nodes:
        watchers.append(threading.Thread(target=_remove_when, daemon=True, args=(
            cluster, nodes[-1], args.remove_node_when, stop, report)))
    for w in watchers:
        w.start()
    try:
        for part in _split(cmd):
            part = [a.replace("{address}", cluster.address) for a in part]
            print("loopback_cluster: $ " + shlex.join(part), file=sys.stderr, flush=True)
            rc = subprocess.run(part).returncode
            report["returncodes"].append(rc)
            if rc:
                break
    finally:
        stop.set()
        for w in watchers:
            w.join(timeout=5)
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    print("cluster: " + json.dumps(report), flush=True)
    return max(report["returncodes"], default=0)


def _split(cmd: list[str]) -> list[list[str]]:
    parts, cur = [], []
    for a in cmd:
        if a == ";;":
            parts.append(cur)
            cur = []
        else:
            cur.append(a)
    return [p for p in [*parts, cur] if p]


def _kill_one(psutil, title: str, stop: threading.Event, report: dict) -> None:
    """SIGKILL the first worker process found running `title`, once."""
    me = psutil.Process(os.getpid())
    while not stop.is_set():
        for p in me.children(recursive=True):       # our cluster's processes only
            try:
                line = " ".join(p.cmdline())
            except psutil.Error:
                continue
            if line.startswith(title):
                try:
                    p.kill()
                except psutil.Error:
                    continue
                report["killed"] = {"pid": p.pid, "title": line.strip()}
                return
        time.sleep(0.05)


def _remove_when(cluster, node, pattern: str, stop: threading.Event, report: dict) -> None:
    while not stop.is_set():
        if glob.glob(pattern, recursive=True):
            cluster.remove_node(node, allow_graceful=False)
            report["removed_node"] = True
            return
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
