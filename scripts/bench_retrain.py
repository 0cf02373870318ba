"""Time the Retrain tab's default training through the app's own runner.

    python scripts/bench_retrain.py [--arch mlp|cnn] [--live] [--repeats 3] [--json]

Runs ``digits.jobs.DEFAULT_CONFIG`` (the MLP sliders' defaults; ``--arch cnn``:
``DEFAULT_CNN_CONFIG``, the CNN's) with ``TrainingRunner`` and
``training_job`` exactly as the app does, on the real MNIST (loaded once, like the app's shared
copy), and prints for every repeat the wall-clock seconds from start() until the result is
ready (training + test evaluation), the CPU seconds, and the test accuracy on the 10 000 test
images; then the medians. Timings on a shared machine are noisy: look at the CPU seconds and
the load average printed with them. ``--live`` compares the training thread's CPU time per
step (live views included) with and without them: wall time on a busy machine varies more
than the live views cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from digits.data import load_mnist
from digits.jobs import DEFAULT_CNN_CONFIG, DEFAULT_CONFIG, Dataset, training_job
from digits.live import Probe
from digits.recipes import TrainConfig
from digits.runner import TrainingRunner


def run_once(data: Dataset, cfg: TrainConfig, live: bool = False) -> dict[str, float]:
    """One training run of ``cfg``; wall and CPU seconds, and test accuracy. ``live``: with the
    app's live views (probe digits and a drawing: a test digit), as the Retrain tab runs it."""
    wall, cpu = time.perf_counter(), time.process_time()
    probe = Probe.from_test(data.x_test, data.y_test) if live else None
    runner = TrainingRunner(training_job(cfg, data), probe=probe, abandon_after=None)
    if live:
        runner.set_drawing(data.x_test[-1])
    runner.start()
    runner.wait()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    snap = runner.snapshot()
    if snap.result is None:
        raise SystemExit(f"training ended with status {snap.status}: {snap.message}")
    steps = len(snap.result.history.loss) and snap.batches * snap.epochs
    return {"seconds": wall, "cpu_seconds": cpu, "train_seconds": snap.result.seconds,
            "step_ms": 1000 * snap.result.seconds / max(steps, 1),
            "step_cpu_ms": 1000 * runner.fit_cpu_seconds / max(steps, 1),
            "test_accuracy": snap.result.test["accuracy"],
            "live_views": snap.live.step if snap.live is not None else 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=["mlp", "cnn"], default="mlp",
                        help="which architecture's defaults to train")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--live", action="store_true",
                        help="also train with the live views on, alternating, and print the "
                             "step-time ratio")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)

    data = Dataset.from_mnist(load_mnist())
    cfg = DEFAULT_CNN_CONFIG if args.arch == "cnn" else DEFAULT_CONFIG
    conv = f" conv {list(cfg.conv)} {cfg.kernel}x{cfg.kernel}," if cfg.arch == "cnn" else ""
    print(f"config: {cfg.arch}{conv} 784-{'-'.join(map(str, cfg.hidden))}-10 {cfg.activation}, "
          f"{cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, {cfg.epochs} epochs on "
          f"{cfg.limit} images, augment {cfg.augment}; cpus {os.cpu_count()}")
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "live": []}
    for i in range(args.repeats):
        for kind in ("plain", "live") if args.live else ("plain",):
            load = os.getloadavg()[0]
            run = run_once(data, cfg, live=kind == "live")
            runs[kind].append(run)
            print(f"run {i + 1} ({'with' if kind == 'live' else 'without'} live views): "
                  f"{run['seconds']:.2f} s wall ({run['train_seconds']:.2f} s in fit, "
                  f"{run['step_ms']:.2f} ms/step, {run['step_cpu_ms']:.2f} CPU ms/step in the "
                  f"training thread, {run['cpu_seconds']:.2f} s CPU in all), test "
                  f"accuracy {run['test_accuracy']:.4f} (load average before: {load:.1f})",
                  flush=True)
    median = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
              for kind, rs in runs.items() if rs}
    m = median["plain"]
    print(f"median of {args.repeats}: {m['seconds']:.2f} s, {m['step_ms']:.2f} ms/step, "
          f"test accuracy {m['test_accuracy']:.4f}")
    if args.live:
        live = median["live"]
        cpu_ratio = live["step_cpu_ms"] / m["step_cpu_ms"]
        ratio = live["step_ms"] / m["step_ms"]
        print(f"with live views: {live['step_cpu_ms']:.2f} CPU ms/step: {cpu_ratio:.3f}x the "
              f"step without (target <= 1.10x); wall {live['step_ms']:.2f} ms/step: "
              f"{ratio:.3f}x (noisy on a shared machine); load average now "
              f"{os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps({"runs": runs, "median": median}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
