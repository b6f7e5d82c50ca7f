import json
import math

import pytest

from lessonlib.claims import CLAIMS_LOG_ENV, STRICT_ENV, claim


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "1")


@pytest.fixture
def learner(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)


def test_a_claim_inside_its_bounds_passes_silently(learner, capsys):
    """None, and nothing printed, so that a cell ending with a claim displays nothing (nbval compares it)."""
    assert claim("gap", 0.4, low=0.1, high=0.7) is None
    assert claim("only an upper bound", -3.0, high=0.0) is None
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("value", [0.05, 0.1, 0.7, 0.9, math.nan])
def test_under_the_test_command_a_missed_claim_fails_and_names_itself(strict, value):
    with pytest.raises(AssertionError, match="KL gap of the 8-layer flow.*between 0.1 and 0.7"):
        claim("KL gap of the 8-layer flow", value, low=0.1, high=0.7)


@pytest.mark.parametrize("value", [0.05, 0.9, math.nan])
def test_in_a_learners_kernel_a_missed_claim_prints_a_note_and_returns(learner, capsys, value):
    assert claim("KL gap of the 8-layer flow", value, low=0.1, high=0.7) is None
    note = capsys.readouterr().out
    assert "KL gap of the 8-layer flow: the text relies on a value between 0.1 and 0.7" in note
    assert f"this run got {value:.4g}" in note
    assert "training amplifies" in note and "The notebook goes on." in note


@pytest.mark.parametrize(("low", "high", "says"), [(0.3, None, "above 0.3"), (None, -50, "below -50")])
def test_the_note_states_a_one_sided_bound(learner, capsys, low, high, says):
    claim("c", 0.0 if low else 1.0, low=low, high=high)
    assert f"the text relies on a value {says};" in capsys.readouterr().out


def test_strict_mode_is_off_for_an_empty_or_zero_setting(monkeypatch, capsys):
    for setting in ("", "0"):
        monkeypatch.setenv(STRICT_ENV, setting)
        claim("c", 5.0, high=2.0)
        assert "this run got 5" in capsys.readouterr().out


def test_a_claim_needs_a_bound_and_a_number():
    with pytest.raises(ValueError, match="needs a bound"):
        claim("gap", 0.4)
    with pytest.raises(ValueError, match="must be a number"):
        claim("gap", "0.4x", low=0.0)


def test_claims_are_recorded_for_the_spread_tool(tmp_path, monkeypatch, strict):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(CLAIMS_LOG_ENV, str(log))
    claim("a", 1.0, low=0.0)
    with pytest.raises(AssertionError):
        claim("b", 5.0, high=2.0)  # a failing claim is recorded too: the spread tool shows where it went
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [
        {"name": "a", "value": 1.0, "low": 0.0, "high": None},
        {"name": "b", "value": 5.0, "low": None, "high": 2.0},
    ]
