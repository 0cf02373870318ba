"""Train a network on MNIST and write weights, a model card and plots.

    python scripts/train.py --recipe mlp --out weights/mlp.npz
    python scripts/train.py --recipe seed --out weights/seed_recipe.npz   # the blog, exactly
    python scripts/train.py --hidden 256,128 --epochs 3 --limit 2000 --out /tmp/quick.npz

Writes NAME.npz (weights + config), NAME.json (the model card: architecture, hyperparameters,
data source and hashes, test accuracy, per-class accuracy, confusion matrix, drawn-digit
accuracy, seconds, versions, date; the hard drawn set's accuracy per style, the verdict shares
and the calibration error) and NAME_curves.png / NAME_confusion.png / NAME_reliability.png.
The temperature and verdict thresholds (``digits.verdict.calibrate``) are saved in the weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nn
from digits import card as cards
from digits import evaluation, verdict
from digits.data import DataError, load_mnist
from digits.recipes import RECIPES, TrainConfig, split_training_data, train_model, with_overrides


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        widths = ()
    if not widths or any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive widths such as 256,128; received {text!r}")
    return widths


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
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--schedule", choices=["cosine", "constant"])
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--limit", type=int, help="use only the first N training images")
    p.add_argument("--validation", type=int, help="hold out the last N training images")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="on-the-fly augmentation (shift, rotation, scale, shear, thickness)")
    p.add_argument("--init", type=Path,
                   help="start from these weights (fine-tuning) instead of fresh ones")
    p.add_argument("--out", type=Path, default=Path("weights/mlp.npz"), help="weights file")
    p.add_argument("--data-dir", type=Path, help="MNIST cache folder (default: user cache)")
    p.add_argument("--idx-dir", type=Path, help="folder with the four MNIST idx files")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-drawn", action="store_true", help="skip the drawn-digit evaluation")
    p.add_argument("--quiet", action="store_true",
                   help="one line per epoch instead of a progress bar")
    return p


def progress_bar(config: TrainConfig, quiet: bool):
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


def reliability_plot(model: nn.Model, x_test, y_test, out: Path, name: str) -> str:
    """NAME_reliability.png: calibrated confidence against accuracy on MNIST test and on the
    hard drawn test part; returns the file name."""
    from digits.calibration import apply_temperature, plot_reliability
    from digits.inference import class_probabilities

    t = verdict.settings_for(model).temperature
    hard = evaluation.hard_inputs("test")
    ok = hard["ok"]
    curves = {"MNIST test": (apply_temperature(class_probabilities(model, x_test), t), y_test),
              "drawn test": (apply_temperature(class_probabilities(model, hard["X"][ok]), t),
                             hard["labels"][ok])}
    path = out.with_name(f"{name}_reliability.png")
    plot_reliability(curves, path, title=f"{name}: reliability (T = {t:g})")
    return path.name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = with_overrides(
            RECIPES[args.recipe], arch=args.arch, conv=args.conv, hidden=args.hidden,
            activation=args.activation,
            optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
            batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, limit=args.limit,
            validation=args.validation, augment=args.augment,
        )
    except ValueError as exc:
        print(f"train.py: {exc}", file=sys.stderr)
        return 2
    try:
        data = load_mnist(data_dir=args.data_dir, idx_dir=args.idx_dir)
    except DataError as exc:
        print(f"train.py: {exc}", file=sys.stderr)
        return 1
    x_train, y_train = data.flat("train")
    x_test, y_test = data.flat("test")
    name = args.out.stem
    print(f"Training '{name}' ({args.recipe} recipe) on {data.source}")
    started = time.perf_counter()
    initial = None
    if args.init is not None:
        try:
            initial = nn.Model.load(args.init)
        except ValueError as exc:
            print(f"train.py: --init: {exc}", file=sys.stderr)
            return 2
    try:
        result = train_model(config, x_train, y_train, callback=progress_bar(config, args.quiet),
                             name=name, verbose=args.quiet, model=initial)
    except nn.TrainingDiverged as exc:
        print(f"train.py: {exc}", file=sys.stderr)
        return 1
    print(result.model.summary())

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_drawn:  # temperature and verdict thresholds, saved with the weights
        _, _, x_val, y_val = split_training_data(x_train, y_train, config)
        verdict.calibrate(result.model, x_val, y_val)
    metadata = {"name": name, "recipe": args.recipe}
    if "verdict" in result.model.metadata:
        metadata["verdict"] = result.model.metadata["verdict"]
    result.model.save(args.out, metadata=metadata)
    model = nn.Model.load(args.out)  # every number below is measured on the saved weights
    test = cards.classification_report(model, x_test, y_test)
    card = {
        "name": name,
        "created": cards.now_iso(),
        "weights_file": args.out.name,
        "weights_sha256": cards.sha256_bytes(args.out),
        "recipe": args.recipe,
        "architecture": {
            "summary": model.summary(),
            "parameters": model.count_params(),
            "layers": model.get_config()["layers"],
            "input": "(n, 784) float32 in [0, 1], white ink on black (MNIST layout)",
        },
        "hyperparameters": config.as_dict(),
        "initial_weights": None if args.init is None else {
            "file": args.init.name, "sha256": cards.sha256_bytes(args.init)},
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
    if not args.no_plots:
        from digits.plots import plot_confusion, plot_history

        curves = args.out.with_name(f"{name}_curves.png")
        confusion = args.out.with_name(f"{name}_confusion.png")
        plot_history(result.history.as_dict(), curves, title=name)
        plot_confusion(test["confusion_matrix"], confusion)
        card["plots"] = [curves.name, confusion.name]
        if not args.no_drawn:
            card["plots"].append(reliability_plot(model, x_test, y_test, args.out, name))
    card["total_seconds"] = round(time.perf_counter() - started, 1)
    card_path = args.out.with_suffix(".json")
    cards.write_card(card_path, card)
    line = f"test accuracy {test['accuracy']:.4f}"
    if "drawn_accuracy" in card:
        line += f", drawn-digit accuracy {card['drawn_accuracy']:.4f}"
    print(f"{line}; trained in {result.seconds:.1f} s. Wrote {args.out} and {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
