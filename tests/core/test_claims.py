import json
import math

import pytest

from lessonlib.claims import CLAIMS_LOG_ENV, claim


def test_a_claim_inside_its_bounds_passes_silently():
    """None, so that a cell ending with a claim displays nothing (its outputs are compared by nbval)."""
    assert claim("gap", 0.4, low=0.1, high=0.7) is None
    assert claim("only an upper bound", -3.0, high=0.0) is None


@pytest.mark.parametrize("value", [0.05, 0.7, 0.9, math.nan])
def test_a_claim_outside_its_bounds_names_itself(value):
    with pytest.raises(AssertionError, match="KL gap of the 8-layer flow"):
        claim("KL gap of the 8-layer flow", value, low=0.1, high=0.7)


def test_a_claim_needs_a_bound_and_a_number():
    with pytest.raises(ValueError, match="needs a bound"):
        claim("gap", 0.4)
    with pytest.raises(ValueError, match="must be a number"):
        claim("gap", "0.4x", low=0.0)


def test_claims_are_recorded_for_the_spread_tool(tmp_path, monkeypatch):
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
