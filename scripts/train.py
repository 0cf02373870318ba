"""Train a network on MNIST and write weights, a model card and plots.

    python scripts/train.py --recipe mlp --out weights/mlp.npz
    python scripts/train.py --recipe seed --out weights/seed_recipe.npz   # the blog, exactly
    python scripts/train.py --hidden 256,128 --epochs 3 --limit 2000 --out /tmp/quick.npz

Writes NAME.npz (weights + config), NAME.json (the model card: architecture, hyperparameters,
data source and hashes, test accuracy, per-class accuracy, confusion matrix, drawn-digit
accuracy, seconds, versions, date; the hard drawn set's accuracy per style, the verdict shares
and the calibration error) and NAME_curves.png / NAME_confusion.png / NAME_reliability.png.
The temperature and verdict thresholds (``digits.verdict.calibrate``) are saved in the weights.

Every option is checked before any training: numbers get argparse-style messages, the network
may have at most MAX_PARAMETERS weights (counted before anything is allocated), --validation
and --limit must fit the data, and --out must be writable. The files are written to a staging
folder beside --out and moved into place together once the card is complete: a failure at any
point leaves the previous weights and card as they were.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nn
from digits import card as cards
from digits import evaluation, verdict
from digits.data import MNIST, DataError, load_mnist, sha256_file
from digits.recipes import (
    INPUT_SIZE,
    N_CLASSES,
    RECIPES,
    TrainConfig,
    TrainResult,
    split_training_data,
    train_model,
    with_overrides,
)
from nn.io import atomic_write_bytes

MAX_SEED = 2**32 - 1
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights, about 1 GB while training with Adam


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        widths = ()
    if not widths or any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive widths such as 256,128; received {text!r}")
    return widths


def whole_number(low: int, high: int | None = None):
    """An argparse type: an integer in low..high (high None: no upper bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            wanted = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"expected a whole number {wanted}; "
                                             f"received {text!r}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number above 0; received {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train a NumPy MLP on MNIST.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), default="mlp",
                   help="starting hyperparameters; the options below override them")
    p.add_argument("--hidden", type=parse_hidden, help="hidden layer widths, e.g. 256,128")
    p.add_argument("--arch", choices=["mlp", "cnn"], help="network kind")
    p.add_argument("--conv", type=parse_hidden,
                   help="cnn: filters of each 3x3 conv + 2x2 max-pool block, e.g. 16,32")
    p.add_argument("--activation", choices=sorted(nn.ACTIVATIONS))
    p.add_argument("--optimizer", choices=sorted(nn.OPTIMIZERS))
    p.add_argument("--lr", type=positive_number, help="learning rate")
    p.add_argument("--schedule", choices=["cosine", "constant"])
    p.add_argument("--batch-size", type=whole_number(1))
    p.add_argument("--epochs", type=whole_number(1))
    p.add_argument("--seed", type=whole_number(0, MAX_SEED))
    p.add_argument("--limit", type=whole_number(1),
                   help="use only the first N training images (the recipe's generated "
                        "drawings shrink in proportion)")
    p.add_argument("--validation", type=whole_number(0),
                   help="hold out the last N training images (at most a fifth of them)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="on-the-fly augmentation (shift, rotation, scale, shear, thickness)")
    p.add_argument("--init", type=Path,
                   help="start from these weights (fine-tuning) instead of fresh ones")
    p.add_argument("--out", type=Path, default=Path("weights/mlp.npz"),
                   help="weights file (.npz); the card and plots go beside it")
    p.add_argument("--data-dir", type=Path, help="MNIST cache folder (default: user cache)")
    p.add_argument("--idx-dir", type=Path, help="folder with the four MNIST idx files")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-drawn", action="store_true", help="skip the drawn-digit evaluation")
    p.add_argument("--quiet", action="store_true",
                   help="one line per epoch instead of a progress bar")
    return p



def progress_bar(quiet: bool):
    """A tqdm bar per epoch, driven by fit's callback."""
    from tqdm import tqdm

    state: dict = {"bar": None}

    def callback(p: nn.Progress) -> None:
        if quiet:
            return
        if p.kind == "batch":
            if state["bar"] is None:
                state["bar"] = tqdm(total=p.batches, desc=f"epoch {p.epoch}/{p.epochs}",
                                    unit="batch", leave=True, dynamic_ncols=True)
            bar = state["bar"]
            bar.update(1)
            if p.batch % 20 == 0 or p.batch == p.batches:
                bar.set_postfix(loss=f"{p.loss:.4f}", acc=f"{p.accuracy:.4f}")
        else:
            bar = state.pop("bar")
            state["bar"] = None
            h = p.history
            post = {"loss": f"{h.loss[-1]:.4f}", "acc": f"{h.accuracy[-1]:.4f}"}
            if h.val_accuracy:
                post["val_acc"] = f"{h.val_accuracy[-1]:.4f}"
            if bar is not None:
                bar.set_postfix(post)
                bar.close()

    return callback


def parameter_count(config: TrainConfig) -> int:
    """Weights of the network ``recipes.build_model(config)`` builds, counted from the sizes
    alone, so that a huge network is refused before anything is allocated. Raises ValueError
    when the conv blocks pool the 28x28 input away."""
    count, n_in = 0, INPUT_SIZE
    if config.arch == "cnn":
        channels, side = 1, 28
        for filters in config.conv:
            count += (channels * 9 + 1) * filters  # 3x3 "same" conv, then 2x2 max-pool
            channels, side = filters, side // 2
            if side == 0:
                raise ValueError(f"--conv: {len(config.conv)} conv blocks pool a 28x28 image "
                                 "to nothing; use at most 4")
        n_in = channels * side * side
    for width in (*config.hidden, N_CLASSES):
        count += (n_in + 1) * width
        n_in = width
    return count


def destination_problem(out: Path) -> str | None:
    """Why the weights, card and plots cannot be written at ``out``, or None. Checked before
    training, so that no training time is spent on a run whose result cannot be kept."""
    if out.is_dir():
        return f"--out {out} is a folder; give a file name such as {out / 'model.npz'}"
    if out.suffix != ".npz":
        return f"--out expected a file name ending in .npz (the card goes beside it as .json); " \
               f"received {out}"
    if out.exists() and not out.is_file():
        return f"--out {out} exists and is not a regular file"
    existing = next(p for p in out.parents if p.exists() or p == p.parent)
    if not existing.is_dir():
        return f"--out {out}: {existing} is not a folder"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        return f"--out {out}: cannot write in the folder {out.parent} ({exc.strerror or exc})"
    return None


def sizes_problem(config: TrainConfig, n_images: int) -> str | None:
    """Why ``config``'s validation and limit do not fit ``n_images`` training images, or None."""
    most = n_images // 5
    if config.validation > most:
        return (f"--validation: at most {most} (a fifth of the {n_images} training images) can "
                f"be held out; received {config.validation}")
    left = n_images - config.validation
    if config.limit is not None and config.limit > left:
        return (f"--limit: {left} training images are left after holding out "
                f"{config.validation} for validation; received {config.limit}")
    return None


def replace_together(staged: list[Path], folder: Path) -> None:
    """Move staged files (card first, then weights, then plots) from the staging folder into
    ``folder``, as a pair: both or neither.

    Everything was computed, written and read back before this is called, so any earlier
    failure leaves the previous weights and card as they were (neither). The renames are in
    the same folder tree, hence atomic each; the card goes first because it is small: if the
    weights' rename then fails, the old card (kept in memory) is put back, so an exception
    never leaves a card that describes other weights (both or neither). Only a crash in the
    microseconds between the two renames could; the card's ``weights_sha256`` tells then."""
    card, weights, *plots = staged
    card_target = folder / card.name
    old_card = card_target.read_bytes() if card_target.is_file() else None
    os.replace(card, card_target)
    try:
        os.replace(weights, folder / weights.name)
    except BaseException:
        if old_card is None:
            card_target.unlink(missing_ok=True)
        else:
            atomic_write_bytes(card_target, old_card)
        raise
    for plot in plots:
        os.replace(plot, folder / plot.name)


def remove_stale_staging(out: Path) -> None:
    """Remove staging folders that runs killed while saving ``out`` left behind (their process
    is gone); a running process's folder is left alone."""
    for folder in out.parent.glob(f".{out.stem}.*.staging"):
        pid = folder.name[len(out.stem) + 2:].split(".")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # alive, but another user's


def reliability_plot(model: nn.Model, x_test, y_test, folder: Path, name: str) -> Path:
    """NAME_reliability.png: calibrated confidence against accuracy on MNIST test and on the
    hard drawn test part; returns its path."""
    from digits.calibration import apply_temperature, plot_reliability
    from digits.inference import class_probabilities

    t = verdict.settings_for(model).temperature
    hard = evaluation.hard_inputs("test")
    ok = hard["ok"]
    curves = {"MNIST test": (apply_temperature(class_probabilities(model, x_test), t), y_test),
              "drawn test": (apply_temperature(class_probabilities(model, hard["X"][ok]), t),
                             hard["labels"][ok])}
    path = folder / f"{name}_reliability.png"
    plot_reliability(curves, path, title=f"{name}: reliability (T = {t:g})")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = with_overrides(
            RECIPES[args.recipe], arch=args.arch, conv=args.conv, hidden=args.hidden,
            activation=args.activation,
            optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
            batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, limit=args.limit,
            validation=args.validation, augment=args.augment,
        )
        if config.arch == "cnn" and not config.conv:
            raise ValueError("--arch cnn needs --conv, e.g. --conv 16,32")
        weights = parameter_count(config)
    except ValueError as exc:
        parser.error(str(exc))
    if weights > MAX_PARAMETERS:
        parser.error(f"the network would have {weights:,} weights; the limit is "
                     f"{MAX_PARAMETERS:,} (about 1 GiB while training). Use narrower --hidden "
                     "layers or fewer --conv filters")
    problem = destination_problem(args.out)
    if problem:
        parser.error(problem)
    try:
        data = load_mnist(data_dir=args.data_dir, idx_dir=args.idx_dir)
    except DataError as exc:
        print(f"train.py: {exc}", file=sys.stderr)
        return 1
    x_train, y_train = data.flat("train")
    x_test, y_test = data.flat("test")
    problem = sizes_problem(config, len(x_train))
    if problem:
        parser.error(problem)
    if config.limit is not None:  # a share of MNIST: the recipe's generated data shrinks with it
        share = config.limit / (len(x_train) - config.validation)
        config = with_overrides(config, drawn_train=round(config.drawn_train * share),
                                outlier_train=round(config.outlier_train * share))
    name = args.out.stem
    where = f" (read from {data.location})" if data.location else ""
    print(f"Training '{name}' ({args.recipe} recipe) on {data.source}{where}")
    started = time.perf_counter()
    initial = None
    if args.init is not None:
        try:
            initial = nn.Model.load(args.init)
        except ValueError as exc:
            print(f"train.py: --init: {exc}", file=sys.stderr)
            return 2
    try:
        result = train_model(config, x_train, y_train, callback=progress_bar(args.quiet),
                             name=name, verbose=args.quiet, model=initial)
    except nn.TrainingDiverged as exc:
        print(f"train.py: {exc}", file=sys.stderr)
        return 1
    print(result.model.summary())

    # Everything is written to a staging folder beside --out first and only moved into place
    # once the card is complete (see replace_together): both or neither.
    remove_stale_staging(args.out)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.", suffix=".staging",
                                    dir=args.out.parent))
    try:
        if not args.no_drawn:  # temperature and verdict thresholds, saved with the weights
            _, _, x_val, y_val = split_training_data(x_train, y_train, config)
            verdict.calibrate(result.model, x_val, y_val)
        metadata = {"name": name, "recipe": args.recipe}
        if "verdict" in result.model.metadata:
            metadata["verdict"] = result.model.metadata["verdict"]
        staged_weights = staging / args.out.name
        result.model.save(staged_weights, metadata=metadata)
        model = nn.Model.load(staged_weights)  # every number below is measured on these weights
        card = build_card(args, config, data, result, model, x_test, y_test, staged_weights)
        plots = [] if args.no_plots else write_plots(card, result, staging, name, model, x_test,
                                                     y_test, not args.no_drawn)
        card["total_seconds"] = round(time.perf_counter() - started, 1)
        staged_card = staging / f"{name}.json"
        cards.write_card(staged_card, card)
        replace_together([staged_card, staged_weights, *plots], args.out.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    card_path = args.out.with_suffix(".json")
    line = f"test accuracy {card['test_accuracy']:.4f}"
    if "drawn_accuracy" in card:
        line += f", drawn-digit accuracy {card['drawn_accuracy']:.4f}"
    print(f"{line}; trained in {result.seconds:.1f} s. Wrote {args.out} and {card_path}")
    return 0


def build_card(args: argparse.Namespace, config: TrainConfig, data: MNIST, result: TrainResult,
               model: nn.Model, x_test: np.ndarray, y_test: np.ndarray, weights_file: Path
               ) -> dict:
    """The model card: architecture, hyperparameters, where the data came from (package,
    version, file names and hashes; no path of this machine), the test and drawn-digit
    reports on the saved weights, history, versions."""
    test = cards.classification_report(model, x_test, y_test)
    card = {
        "name": args.out.stem,
        "created": cards.now_iso(),
        "weights_file": args.out.name,
        "weights_sha256": sha256_file(weights_file),
        "recipe": args.recipe,
        "architecture": {
            "summary": model.summary(),
            "parameters": model.count_params(),
            "layers": model.get_config()["layers"],
            "input": "(n, 784) float32 in [0, 1], white ink on black (MNIST layout)",
        },
        "hyperparameters": config.as_dict(),
        "initial_weights": None if args.init is None else {
            "file": args.init.name, "sha256": sha256_file(args.init)},
        "data": {
            "source": data.source,
            "sha256": data.sha256,
            "train_examples": result.examples,
            "generated_examples": result.generated_examples,
            "validation_examples": result.validation_examples,
            "test_examples": test["examples"],
        },
        "test_accuracy": test["accuracy"],
        "test_accuracy_measured": "fraction of the 10 000 MNIST test images whose most "
                                  "probable class is the label, on the saved weights",
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "history": result.history.as_dict(),
        "training_seconds": round(result.seconds, 1),
        "total_seconds": None,
        **cards.environment(),
    }
    if not args.no_drawn:
        drawn = cards.drawn_report(model)
        card["drawn_accuracy"] = drawn["accuracy"]
        card["drawn"] = drawn
        card.update(evaluation.card_fields(model, x_test, y_test))
    return card


def write_plots(card: dict, result: TrainResult, folder: Path, name: str, model: nn.Model,
                x_test: np.ndarray, y_test: np.ndarray, drawn: bool) -> list[Path]:
    """The training curves, the confusion matrix and (with the drawn sets) the reliability
    diagram as PNGs in ``folder``; their names go in the card."""
    from digits.plots import plot_confusion, plot_history

    curves, confusion = folder / f"{name}_curves.png", folder / f"{name}_confusion.png"
    plot_history(result.history.as_dict(), curves, title=name)
    plot_confusion(card["confusion_matrix"], confusion)
    plots = [curves, confusion]
    if drawn:
        plots.append(reliability_plot(model, x_test, y_test, folder, name))
    card["plots"] = [p.name for p in plots]
    return plots


if __name__ == "__main__":
    raise SystemExit(main())
