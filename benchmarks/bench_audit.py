"""The audit layer: what the Merkle tree and seals cost, and how big proofs are.

Usage::

    python benchmarks/bench_audit.py [--quick] [--json OUT]

For a bank of P = 64 float64 oscillators in IM mode (dt = 0.05, A uniform in
[0.5, 4]) driven by 256 seeded inputs, cycled, all in one run:

1. ``Recorder.step(u)`` into ``/dev/null`` with the default policies (a
   checkpoint every 1000 steps), as it is (the Merkle tree of the event
   bodies kept by the writer), against the same recorder with the tree
   replaced by a stub whose ``append`` does nothing (the bookkeeping removed,
   nothing else changed), and against a recorder that also seals the tree at
   every checkpoint (a ``SealKey``, seals into memory);
2. ``verify`` per event of a recorded log, with and without the tree (the
   verifier's tree replaced by the same stub);
3. the pieces: ``MerkleTree.append`` of a step body, BLAKE2b-256 of it, and
   ``SealKey.mac`` of a checkpoint body;
4. proofs on a sealed log of 1,000,000 steps (50,000 with ``--quick``):
   the time to make and to check an inclusion proof, a consistency proof and a
   bundle of one stretch between checkpoints, and their sizes in bytes.

Contenders are timed in interleaved rounds, the process pinned to one CPU;
tables give medians over rounds and medians of the per-round ratios. The
target (bookkeeping adds at most 20% to recording time) is printed beside the
figure; the exit status never depends on it. A full run takes about two
minutes, most of it recording and proving the long log; ``--quick`` about 15 s.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

from linoss_dynamics import (
    Oscillator,
    Recorder,
    SealKey,
    check_proof,
    logfile,
    make_bundle,
    merkle,
    prove_consistency,
    prove_inclusion,
    verify,
    verify_bundle,
)
from linoss_dynamics.codec import encode_step

P = 64
INPUTS = 256


@dataclass(frozen=True)
class Config:
    rounds: int
    block_seconds: float
    verify_steps: int
    long_steps: int


FULL = Config(rounds=61, block_seconds=0.1, verify_steps=20_000, long_steps=1_000_000)
QUICK = Config(rounds=5, block_seconds=0.02, verify_steps=2_000, long_steps=50_000)

# The module, not the function the package exports under the same name.
verify_module = sys.modules["linoss_dynamics.verify"]
verify_fn = verify_module.verify


class _NoTree:
    """A stand-in for ``MerkleTree`` that keeps nothing: the bookkeeping removed."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.end = start

    def append(self, data: bytes) -> None:
        pass

    def root(self) -> bytes:
        return merkle.EMPTY_ROOT

    def blocks(self) -> list[tuple[int, bytes]]:
        return []


def bank() -> tuple[Oscillator, np.ndarray]:
    rng = np.random.default_rng(0)
    osc = Oscillator(A=rng.uniform(0.5, 4.0, P), dt=0.05, mode="im")
    return osc, rng.standard_normal((INPUTS, P))


def recorder(osc: Oscillator, *, tree: bool, key: SealKey | None = None) -> Recorder:
    sink = open(os.devnull, "wb")  # noqa: SIM115 - kept open across rounds
    seals = io.StringIO() if key is not None else None
    saved = logfile.MerkleTree
    if not tree:
        logfile.MerkleTree = _NoTree  # type: ignore[misc,assignment]
    try:
        return Recorder(sink, osc, np.ones(P), np.zeros(P), key=key, seals=seals)
    finally:
        logfile.MerkleTree = saved  # type: ignore[misc]


def steps_block(rec: Recorder, U: np.ndarray) -> h.Block:
    step = rec.step
    mask = len(U) - 1
    rows = list(U)

    def block(n: int) -> None:
        for i in range(n):
            step(rows[i & mask])

    return block


def record_log(
    path: Path, osc: Oscillator, U: np.ndarray, steps: int, key: Any
) -> None:
    rows = list(U)
    with Recorder(path, osc, np.ones(P), np.zeros(P), key=key) as rec:
        for i in range(steps):
            rec.step(rows[i % len(rows)])


def verify_block(path: Path, *, tree: bool) -> h.Block:
    def block(n: int) -> None:
        saved = verify_module.MerkleTree
        if not tree:
            verify_module.MerkleTree = _NoTree  # type: ignore[misc,assignment]
        try:
            for _ in range(n):
                report = verify_fn(path)
                # Without the tree, the closing record's root cannot match:
                # every event is replayed, and the last one fails.
                failed = report.failure
                assert report.ok if tree else failed and failed.field == "tree_root"
        finally:
            verify_module.MerkleTree = saved  # type: ignore[misc]

    return block


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def run(config: Config, log: Any) -> dict[str, Any]:
    osc, U = bank()
    key = SealKey.generate()
    timings = h.Timings(log)
    target = config.block_seconds

    # 1. Recording, with and without the tree, and sealed.
    with_tree = recorder(osc, tree=True)
    without = recorder(osc, tree=False)
    sealed = recorder(osc, tree=True, key=key)
    assert isinstance(without._writer._tree, _NoTree)
    timings.measure(
        "Recorder.step",
        [
            h.local_contender("record.tree", steps_block(with_tree, U), target_seconds=target, unit="step"),
            h.local_contender("record.no_tree", steps_block(without, U), target_seconds=target, unit="step"),
            h.local_contender("record.sealed", steps_block(sealed, U), target_seconds=target, unit="step"),
        ],
        config.rounds,
    )  # fmt: skip

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        # 2. Verification, with and without the tree.
        short = folder / "short.log"
        record_log(short, osc, U, config.verify_steps, None)
        events = verify(short).events_verified
        timings.measure(
            "verify",
            [
                h.local_contender("verify.tree", verify_block(short, tree=True), target_seconds=target, units=events, unit="event", number=1),
                h.local_contender("verify.no_tree", verify_block(short, tree=False), target_seconds=target, units=events, unit="event", number=1),
            ],
            max(5, config.rounds // 3),
        )  # fmt: skip

        # 3. The pieces.
        body = encode_step(10**6, U[0], None, b"\x00" * 16, 1.0, 1.0, 0.0, None, None)
        tree = merkle.MerkleTree()
        checkpoint_body = b"x" * 180
        timings.measure(
            "pieces",
            [
                h.local_contender("piece.tree_append", h.each(tree.append, [(body,)]), target_seconds=target),
                h.local_contender("piece.leaf_hash", h.each(merkle.leaf_hash, [(body,)]), target_seconds=target),
                h.local_contender("piece.seal_mac", h.each(key.mac, [(checkpoint_body,)]), target_seconds=target),
            ],
            config.rounds,
        )  # fmt: skip

        # 4. Proofs on a long sealed log.
        long = folder / "long.log"
        log(f"recording a sealed log of {config.long_steps:,} steps")
        _, recorded = timed(record_log, long, osc, U, config.long_steps, key)
        report, verified = timed(verify, long, key=key)
        assert report.ok, report.failure
        seq = int(report.events_verified * 0.812331)
        proof, proved = timed(prove_inclusion, long, seq)
        proof_json = proof.model_dump_json()
        # Under the seal of the whole log, the closing one.
        whole = prove_inclusion(long, seq, size=report.events_verified)
        assert check_proof(whole, key=key).size == report.events_verified
        check, checked = timed(check_proof, proof, key=key)
        assert check.ok
        consistency, proved_c = timed(prove_consistency, long, 1001)
        check_c, checked_c = timed(check_proof, consistency, key=key)
        assert check_c.ok
        bundle, bundled = timed(make_bundle, long, seq)
        rerun, rerun_s = timed(verify_bundle, bundle, key=key)
        assert rerun.ok, rerun.failure
        results["long"] = {
            "steps": config.long_steps,
            "events": report.events_verified,
            "bytes": long.stat().st_size,
            "seals": report.seals_checked,
            "record_s": recorded,
            "verify_with_key_s": verified,
            "inclusion_whole": {
                "size": report.events_verified,
                "path_hashes": len(whole.path),
                "json_bytes": len(whole.model_dump_json()),
            },
            "inclusion": {
                "size": check.size,
                "seq": seq,
                "path_hashes": len(proof.path),
                "json_bytes": len(proof_json),
                "prove_s": proved,
                "check_s": checked,
            },
            "consistency": {
                "old": 1001,
                "new": report.events_verified,
                "path_hashes": len(consistency.path),
                "json_bytes": len(consistency.model_dump_json()),
                "prove_s": proved_c,
                "check_s": checked_c,
            },
            "bundle": {
                "first_seq": rerun.first_seq,
                "last_seq": rerun.last_seq,
                "bytes": len(bundle),
                "make_s": bundled,
                "verify_s": rerun_s,
            },
        }

    figures = [
        h.Figure("1. `Recorder.step`: with the Merkle tree vs without", "record.tree", "record.no_tree", "overhead", 1.2),
        h.Figure("1. `Recorder.step`: sealed at every checkpoint vs no tree", "record.sealed", "record.no_tree", "overhead"),
        h.Figure("2. `verify` per event: with the tree vs without", "verify.tree", "verify.no_tree", "overhead"),
    ]  # fmt: skip
    results["figures"] = [h.figure_row(f, timings.results) for f in figures]
    results["timings"] = {k: v.as_dict() for k, v in timings.results.items()}
    results["rounds"] = timings.rounds
    results["header"] = h.run_header()
    results["sources"] = h.measured_sources(
        ["merkle.py", "seals.py", "logfile.py", "verify.py", "proofs.py", "bundle.py"]
    )
    return results


def report(result: dict[str, Any]) -> str:
    header = result["header"]
    long = result["long"]
    lines = [
        h.markdown_table(
            ["run", ""],
            [
                ["command", f"`{h.command_line()}`"],
                ["machine", h.describe_machine(header["machine"])],
                ["date", header["date"]],
                ["ours", f"commit {result['sources']['commit']}, changed: {', '.join(result['sources']['changed_modules']) or 'none'}"],
                ["mode", "`--quick`: small sizes, a smoke test" if result["_quick"] else "full"],
            ],
        ),
        "",
        h.summary_table(result["figures"]),
        "",
    ]  # fmt: skip
    timings = result["timings"]
    lines.append(
        h.markdown_table(
            ["contender", "median", "min", "max"],
            [
                [f"`{name}`", f"{h.format_seconds(t['median_s'])} per {t['unit']}", h.format_seconds(t["min_s"]), h.format_seconds(t["max_s"])]
                for name, t in timings.items()
            ],
        )
    )  # fmt: skip
    inc, con, bun = long["inclusion"], long["consistency"], long["bundle"]
    lines += [
        "",
        h.markdown_table(
            ["sealed log of " + f"{long['steps']:,} steps", "value"],
            [
                ["events, bytes, seals", f"{long['events']:,} events, {long['bytes']:,} bytes, {long['seals']:,} sealed checkpoints"],
                ["recorded (sealed); verified with the key", f"{long['record_s']:.1f} s; {long['verify_with_key_s']:.1f} s"],
                [f"inclusion proof of seq {inc['seq']:,} under the seal of {inc['size']:,} events", f"{inc['path_hashes']} hashes, {inc['json_bytes']:,} bytes of JSON; made in {inc['prove_s']:.2f} s, checked in {h.format_seconds(inc['check_s'])}"],
                [f"the same under the closing seal, {long['inclusion_whole']['size']:,} events", f"{long['inclusion_whole']['path_hashes']} hashes, {long['inclusion_whole']['json_bytes']:,} bytes of JSON"],
                [f"consistency proof {con['old']:,} -> {con['new']:,}", f"{con['path_hashes']} hashes, {con['json_bytes']:,} bytes; made in {con['prove_s']:.2f} s, checked in {h.format_seconds(con['check_s'])}"],
                [f"bundle of events {bun['first_seq']:,} to {bun['last_seq']:,}", f"{bun['bytes']:,} bytes; made in {bun['make_s']:.2f} s, re-executed in {h.format_seconds(bun['verify_s'])}"],
            ],
        ),
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return h.main(argv, doc=__doc__, full=FULL, quick=QUICK, run=run, report=report)


if __name__ == "__main__":
    sys.exit(main())
