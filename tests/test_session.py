"""A session's state as plain objects (ui.session), without Streamlit: the Retrain tab's
RetrainState (its own models, the run, the last result, the model to activate)."""

from __future__ import annotations

import numpy as np
import pytest

import nn
from digits import runner as rn
from digits.recipes import TrainConfig, build_model
from ui.session import PENDING_SECONDS, ModelEntry, Plan, RetrainState, describe

CONFIG = TrainConfig(hidden=(8,), epochs=1)
PLAN = Plan("train", f"Training {describe(CONFIG)}", lr=0.5, optimizer="sgd")


class Ended:
    """A runner that has already ended with this status (and a result for done/stopped)."""

    active = False

    def __init__(self, status: str, message: str = "") -> None:
        result = None
        if status in (rn.DONE, rn.STOPPED):
            result = rn.RunResult(
                "train", build_model(CONFIG), nn.History(), {
                    "accuracy": 0.875, "examples": 8, "confusion_matrix": np.eye(10).tolist(),
                    "misclassified": []}, 1.5, 100, CONFIG.as_dict(),
                stopped=status == rn.STOPPED)
        self.snap = rn.Snapshot(status, message, "Done", 1.0, 1, 1, 4, 4, 1.5, (), (), result)

    def start(self) -> Ended:
        return self

    def snapshot(self) -> rn.Snapshot:
        return self.snap


def entry(key: str) -> ModelEntry:
    return ModelEntry(key, key.title(), build_model(CONFIG))


def test_keep_drops_the_oldest_but_never_the_new_one() -> None:
    state = RetrainState(limit=3)
    for key in "abcd":
        state.keep(entry(key), now=0.0)
    assert list(state.models) == ["b", "c", "d"]
    state.limit = 1
    state.keep(entry("e"), now=0.0)
    assert list(state.models) == ["e"]


def test_a_new_model_is_to_be_activated_for_a_few_seconds_only() -> None:
    state = RetrainState()
    assert state.to_activate(0.0) is None
    state.keep(entry("a"), now=100.0)
    assert state.to_activate(100.1) == "a"
    assert state.to_activate(100.0 + PENDING_SECONDS - 0.1) == "a"  # a stale request
    assert state.to_activate(100.0 + PENDING_SECONDS + 0.1) is None  # the user's choice now
    assert state.to_activate(100.2) is None  # and it is forgotten
    state.keep(entry("b"), now=200.0)
    state.models.clear()  # dropped meanwhile: nothing to activate
    assert state.to_activate(200.1) is None


def test_collecting_a_finished_run_keeps_its_model_and_frees_the_session() -> None:
    state = RetrainState()
    state.start(Ended(rn.DONE, "Finished."), PLAN)  # type: ignore[arg-type]
    assert state.busy
    finished = state.collect(now=10.0)
    assert finished is not None and not state.busy and state.last is finished
    assert finished.plan is PLAN and finished.snapshot.status == rn.DONE
    new = finished.entry
    assert new is not None and new.key == "trained-1" and state.models == {"trained-1": new}
    assert new.label == "Retrained #1 · 784-8-10 relu · 87.5%"
    assert new.card["test_accuracy"] == 0.875 and new.card["name"] == new.label
    assert all(not p.flags.writeable for _, p, _ in new.model.parameters())
    assert state.to_activate(10.5) is None  # not active until the user chooses it
    state.activate("trained-1", now=12.0)
    assert state.to_activate(12.5) == "trained-1"
    state.activate("gone", now=13.0)  # a model dropped meanwhile: nothing changes
    assert state.to_activate(13.5) == "trained-1"
    assert state.collect(now=11.0) is None  # nothing more to collect


def test_a_stopped_run_is_labelled_so() -> None:
    state = RetrainState()
    state.start(Ended(rn.STOPPED, "Stopped at epoch 1"), PLAN)  # type: ignore[arg-type]
    finished = state.collect(now=0.0)
    assert finished is not None and finished.entry is not None
    assert finished.entry.label.endswith("(stopped early)")


@pytest.mark.parametrize("status", [rn.DIVERGED, rn.FAILED])
def test_a_run_without_a_model_keeps_the_models_as_they_were(status: str) -> None:
    state = RetrainState()
    state.keep(entry("a"), now=0.0)
    state.start(Ended(status, "Training diverged at epoch 1, batch 3"), PLAN)  # type: ignore[arg-type]
    finished = state.collect(now=100.0)
    assert finished is not None and finished.entry is None
    assert list(state.models) == ["a"] and state.count == 0
    assert state.to_activate(100.0) is None


def test_a_result_that_cannot_be_taken_over_is_a_problem_not_a_traceback() -> None:
    state = RetrainState()
    runner = Ended(rn.DONE)
    runner.snap.result.test.pop("accuracy")  # type: ignore[union-attr]
    state.start(runner, PLAN)  # type: ignore[arg-type]
    finished = state.collect(now=0.0)
    assert finished is not None and finished.entry is None and "could not" in finished.problem
    assert not state.busy and state.models == {}


def test_keys_number_the_sessions_models() -> None:
    state = RetrainState()
    assert state.next_key("trained") == ("trained-1", 1)
    assert state.next_key("uploaded") == ("uploaded-2", 2)
