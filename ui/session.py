"""What one visitor's session keeps between reruns, as plain objects (no Streamlit here, so it
is tested without it): the models it may pick (:class:`ModelEntry`) and the Retrain tab's state
(:class:`RetrainState`: the session's own models, the run in progress, the last result, and
the key of a new model that is to become the active one).

Shipped models and the dataset are shared by all sessions and never written to: every entry's
weights are read-only (:func:`freeze`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import nn
from digits.jobs import model_card
from digits.recipes import TrainConfig
from digits.runner import DONE, STOPPED, Snapshot, TrainingRunner

log = logging.getLogger(__name__)

MAX_SESSION_MODELS = 3
#: How long a new model keeps being re-selected in the picker: a request the browser sent
#: before it saw the new model carries the old choice, and must not undo the switch.
PENDING_SECONDS = 3.0


@dataclass
class ModelEntry:
    """A model the user can pick, with its model card."""

    key: str
    label: str
    model: nn.Model
    card: dict[str, Any] = field(default_factory=dict)


def freeze(model: nn.Model) -> nn.Model:
    """Make every weight array read-only: a shared model can then never be changed by accident."""
    for _, param, _ in model.parameters():
        param.setflags(write=False)
    return model


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(config: TrainConfig) -> str:
    """A config in one line: ``784-128-10 relu`` (MLP), ``CNN 2×conv8 5×5, dense 64 relu``."""
    if config.arch == "cnn":
        conv = "-".join(map(str, config.conv))
        return (f"CNN conv {conv} {config.kernel}×{config.kernel}, dense "
                f"{'-'.join(map(str, config.hidden))} {config.activation}")
    return f"784-{'-'.join(map(str, config.hidden))}-10 {config.activation}"


@dataclass(frozen=True)
class Plan:
    """What the page knew when it started a run (what the user asked for)."""

    kind: str  # "train" or "finetune"
    title: str  # e.g. "Training 784-128-10 relu"
    lr: float  # the learning rate the user set (not the schedule's value when it failed)
    optimizer: str
    base: str = ""  # fine-tuning: the label of the model it started from
    trained_ids: tuple[int, ...] = ()  # fine-tuning: the ids of the drawings it trained on


@dataclass(frozen=True)
class Finished:
    """A run that ended: its plan, its last snapshot (status, message, curves, result) and
    the session model it gave (None when it diverged, failed or was stopped before a batch)."""

    plan: Plan
    snapshot: Snapshot
    entry: ModelEntry | None = None
    problem: str = ""  # set when the result could not be taken over


@dataclass
class RetrainState:
    """The Retrain tab's state for one session."""

    limit: int = MAX_SESSION_MODELS
    models: dict[str, ModelEntry] = field(default_factory=dict)  # oldest first
    runner: TrainingRunner | None = None
    plan: Plan | None = None
    last: Finished | None = None
    problem: tuple[str, str] | None = None  # (kind, Markdown-safe text): a run not started
    upload_note: tuple[str, str] | None = None  # ("ok" | "error", Markdown-safe text)
    upload: tuple[str, nn.Model] | None = None  # (file name, model) read, to be checked
    count: int = 0  # models made in this session: numbers their keys and labels
    pending: str | None = None
    pending_until: float = 0.0

    @property
    def busy(self) -> bool:
        """A run is going on, or has ended and is not collected yet."""
        return self.runner is not None

    def start(self, runner: TrainingRunner, plan: Plan) -> None:
        """Start ``runner`` as this session's run."""
        self.runner, self.plan, self.problem = runner.start(), plan, None

    def next_key(self, prefix: str) -> tuple[str, int]:
        """A new model key (``trained-3``) and its number."""
        self.count += 1
        return f"{prefix}-{self.count}", self.count

    def keep(self, entry: ModelEntry, now: float, activate: bool = True) -> None:
        """Keep a new model (and make it the one to activate, unless ``activate`` is False);
        beyond ``limit`` the oldest models are dropped, never this one."""
        self.models[entry.key] = entry
        for key in [k for k in self.models if k != entry.key][:max(len(self.models)
                                                                     - self.limit, 0)]:
            del self.models[key]
        if activate:
            self.activate(entry.key, now)

    def activate(self, key: str, now: float) -> None:
        """Make the session model ``key`` the one the picker shows next (the user chose it)."""
        if key in self.models:
            self.pending, self.pending_until = key, now + PENDING_SECONDS

    def to_activate(self, now: float) -> str | None:
        """The key the model picker should show now, if a new model is waiting for it."""
        if self.pending is not None and (now > self.pending_until
                                         or self.pending not in self.models):
            self.pending = None
        return self.pending

    def collect(self, now: float) -> Finished | None:
        """When the run has ended: record it (``last``), keep the model it gave (not active:
        the user chooses whether it becomes the active one) and free the session for the next
        run. Returns the Finished, else None."""
        runner, plan = self.runner, self.plan
        if runner is None or plan is None or runner.active:
            return None
        snap = runner.snapshot()
        self.runner = self.plan = None
        finished = Finished(plan, snap)
        if snap.result is not None and snap.status in (DONE, STOPPED):
            try:
                entry = self._entry(plan, snap)
            except Exception:  # never a traceback, and never stuck on a finished run
                log.exception("could not take over the result of %s", plan.title)
                finished = Finished(plan, snap, problem="its result could not be read; the "
                                                        "details are in the server log")
            else:
                self.keep(entry, now, activate=False)
                finished = Finished(plan, snap, entry)
        self.last = finished
        return finished

    def _entry(self, plan: Plan, snap: Snapshot) -> ModelEntry:
        result = snap.result
        assert result is not None
        key, n = self.next_key("finetuned" if plan.kind == "finetune" else "trained")
        acc = result.test["accuracy"]
        if plan.kind == "finetune":
            label = f"Fine-tuned #{n} ({plural(result.extra['drawings'], 'drawing')})"
        else:
            label = f"Retrained #{n} · {describe(TrainConfig.from_dict(result.config))}"
        label += f" · {acc:.1%}" + (" (stopped early)" if snap.status == STOPPED else "")
        return ModelEntry(key, label, freeze(result.model), model_card(result, label))
