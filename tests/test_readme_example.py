"""The README's library examples run as written: the conditional flow's block is executed and its results checked."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks_with(word: str) -> list[str]:
    return [b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S) if word in b]


def test_the_readme_conditional_flow_example_runs_and_learns_the_context():
    (block,) = _blocks_with("context_dim")
    namespace: dict = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    cflow, c, x = namespace["cflow"], namespace["c"], namespace["x"]
    with torch.no_grad():
        log_p = cflow.log_prob(x, c)
        assert log_p.shape == (500,) and torch.isfinite(log_p).all()
        assert cflow.sample(100, c[0]).shape == (100, 2) and cflow.sample(500, c).shape == (500, 2)
        # trained on x2 = c^2: samples given c = 1.5 sit higher than samples given c = 0
        high, low = (cflow.sample(2000, torch.tensor([v])).mean(0)[1] for v in (1.5, 0.0))
        assert high - low > 1.0, (high, low)
