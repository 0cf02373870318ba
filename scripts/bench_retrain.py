"""Time the Retrain tab's default training through the app's own runner.

    python scripts/bench_retrain.py [--arch mlp|cnn] [--repeats 3] [--json]

Runs ``digits.jobs.DEFAULT_CONFIG`` (the MLP sliders' defaults; ``--arch cnn``:
``DEFAULT_CNN_CONFIG``, the CNN's) with ``TrainingRunner`` and
``training_job`` exactly as the app does, on the real MNIST (loaded once, like the app's shared
copy), and prints for every repeat the wall-clock seconds from start() until the result is
ready (training + test evaluation), the CPU seconds, and the test accuracy on the 10 000 test
images; then the medians. Timings on a shared machine are noisy: look at the CPU seconds and
the load average printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from digits.data import load_mnist
from digits.jobs import DEFAULT_CNN_CONFIG, DEFAULT_CONFIG, Dataset, training_job
from digits.recipes import TrainConfig
from digits.runner import TrainingRunner


def run_once(data: Dataset, cfg: TrainConfig) -> dict[str, float]:
    """One training run of ``cfg``; wall and CPU seconds, and test accuracy."""
    wall, cpu = time.perf_counter(), time.process_time()
    runner = TrainingRunner(training_job(cfg, data), abandon_after=None).start()
    runner.wait()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    snap = runner.snapshot()
    if snap.result is None:
        raise SystemExit(f"training ended with status {snap.status}: {snap.message}")
    return {"seconds": wall, "cpu_seconds": cpu, "train_seconds": snap.result.seconds,
            "test_accuracy": snap.result.test["accuracy"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=["mlp", "cnn"], default="mlp",
                        help="which architecture's defaults to train")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)

    data = Dataset.from_mnist(load_mnist())
    cfg = DEFAULT_CNN_CONFIG if args.arch == "cnn" else DEFAULT_CONFIG
    conv = f" conv {list(cfg.conv)} {cfg.kernel}x{cfg.kernel}," if cfg.arch == "cnn" else ""
    print(f"config: {cfg.arch}{conv} 784-{'-'.join(map(str, cfg.hidden))}-10 {cfg.activation}, "
          f"{cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, {cfg.epochs} epochs on "
          f"{cfg.limit} images, augment {cfg.augment}; cpus {os.cpu_count()}")
    runs = []
    for i in range(args.repeats):
        load = os.getloadavg()[0]
        run = run_once(data, cfg)
        runs.append(run)
        print(f"run {i + 1}: {run['seconds']:.2f} s wall ({run['train_seconds']:.2f} s in fit, "
              f"{run['cpu_seconds']:.2f} s CPU), test accuracy {run['test_accuracy']:.4f} "
              f"(load average before: {load:.1f})", flush=True)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"median of {len(runs)}: {median['seconds']:.2f} s, test accuracy "
          f"{median['test_accuracy']:.4f}")
    if args.json:
        print(json.dumps({"runs": runs, "median": median}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
