"""Train and measure flows from lessonlib, zuko and normflows; one process per thread setting.

Run by tools/bench.py with the benchmark venv's Python (which has zuko and normflows) and
PYTHONPATH at the repository root, so lessonlib is imported from the working tree:

    python -m benchmarks.flows_worker fit JOBS_JSON     # KL runs: [{"library", "target", "seed", "steps", "family"}]
    python -m benchmarks.flows_worker speed STEPS ROUNDS # steps/s of the three libraries, interleaved
    python -m benchmarks.flows_worker speed STEPS ROUNDS spline  # steps/s of the spline flows (lessonlib, zuko)

Every library goes through the same loop (``train``): the same Adam, the same batches (drawn from
the target before timing starts, fresh for every step), the same loss -mean log p_X(x). Only the
model differs. Thread count comes from the environment (OMP_NUM_THREADS, set by the caller before
torch starts) and is confirmed with torch.set_num_threads. Each result is one JSON line on stdout.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time

import torch
from torch import Tensor

from benchmarks.adapters import ADAPTERS, SPLINE_LIBRARIES, Adapter, build
from lessonlib.toy2d import TARGETS
from lessonlib.verify import autograd_log_det

LR = 1e-3
BATCH = 512
KL_SAMPLES = 20_000
CHECK_SAMPLES = 10_000
AUTOGRAD_POINTS = 64


def set_threads() -> int:
    n = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(n)
    return torch.get_num_threads()


def batches(target_name: str, seed: int, steps: int) -> Tensor:
    """All training batches up front, fresh samples for every step. Shapes: -> (steps, BATCH, 2)."""
    target = TARGETS[target_name]()
    gen = torch.Generator().manual_seed(10_000 + seed)
    return target.sample(steps * BATCH, gen).to(torch.get_default_dtype()).reshape(steps, BATCH, 2)


def train(adapter: Adapter, data: Tensor, opt: torch.optim.Optimizer) -> tuple[float, float, float]:
    """Adam steps on -mean log p_X over the batches in ``data``; returns (wall s, CPU s, last loss)."""
    loss = torch.tensor(float("nan"))
    w0, c0 = time.perf_counter(), time.process_time()
    for x in data:
        loss = -adapter.log_prob(x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - w0, time.process_time() - c0, float(loss.detach())


def checks(adapter: Adapter, target_name: str, seed: int) -> dict[str, float]:
    """KL gap, worst round-trip error and worst log-det error against autograd, for a trained flow."""
    target = TARGETS[target_name]()
    adapter.model.eval()
    kl, kl_se = target_kl(adapter, target, seed)
    gen = torch.Generator().manual_seed(20_000 + seed)
    x = target.sample(CHECK_SAMPLES, gen).to(torch.get_default_dtype())
    z = torch.randn(CHECK_SAMPLES, 2, generator=gen)
    with torch.no_grad():
        zx, _ = adapter.inverse_and_log_det(x)
        x_back, _ = adapter.forward_and_log_det(zx)
        xz, _ = adapter.forward_and_log_det(z)
        z_back, _ = adapter.inverse_and_log_det(xz)
    round_trip = max(_worst(x_back - x), _worst(z_back - z))

    # log-dets against the autograd Jacobian, in float64 so that the error measures the formula
    a64 = copy.deepcopy(adapter).to_double()
    xs, zs = x[:AUTOGRAD_POINTS].double(), z[:AUTOGRAD_POINTS].double()
    _, ld_inv = a64.inverse_and_log_det(xs)
    _, ld_fwd = a64.forward_and_log_det(zs)
    ad_inv = autograd_log_det(lambda v: a64.inverse_and_log_det(v)[0], xs)
    ad_fwd = autograd_log_det(lambda v: a64.forward_and_log_det(v)[0], zs)
    log_det_error = max(_worst(ld_inv.detach() - ad_inv), _worst(ld_fwd.detach() - ad_fwd))
    return {"kl_gap": kl, "kl_gap_mc_se": kl_se, "round_trip_error": round_trip, "log_det_error": log_det_error}


def target_kl(adapter: Adapter, target, seed: int) -> tuple[float, float]:
    """KL(p || q) in nats with its Monte Carlo standard error (lessonlib.toy2d.kl_gap)."""
    from lessonlib.toy2d import kl_gap

    return kl_gap(adapter.log_prob, target, n=KL_SAMPLES, seed=30_000 + seed, dtype=torch.get_default_dtype())


def _worst(t: Tensor) -> float:
    t = t.detach()
    return float(t.abs().max()) if torch.isfinite(t).all() else math.inf


class ConditionersOnly(Adapter):
    """The speed ceiling: the 8 conditioner MLPs (1 -> 64 -> 64 -> 2) and Adam, with no flow around them.

    Its "log_prob" is just the sum of the networks' outputs: not a density, only the shared cost of
    the networks and the optimizer, which every library pays. No coupling flow can train faster.
    """

    library = "conditioners only"
    version = "-"

    def __init__(self) -> None:
        from benchmarks.adapters import HIDDEN, N_LAYERS
        from lessonlib.coupling import MLP

        super().__init__(torch.nn.ModuleList([MLP(1, 2, HIDDEN, zero_last=False) for _ in range(N_LAYERS)]))

    def log_prob(self, x: Tensor) -> Tensor:
        out = x.new_zeros(x.shape[0])
        for k, net in enumerate(self.model):
            out = out + net(x[:, k % 2 : k % 2 + 1]).sum(-1)
        return out


def fit(jobs: list[dict], deadline: float | None = None) -> None:
    """Train and check each job in turn; with a ``deadline`` (Unix time), start no job after it."""
    threads = set_threads()
    for job in jobs:
        if deadline is not None and time.time() > deadline:
            print(json.dumps({"kind": "fit", **job, "status": "not run", "error": "time budget used up"}), flush=True)
            continue
        lib, target_name, seed, steps = job["library"], job["target"], int(job["seed"]), int(job["steps"])
        family = job.get("family", "affine")
        data = batches(target_name, seed, steps)
        adapter = build(lib, seed, family)
        opt = torch.optim.Adam(adapter.model.parameters(), lr=LR)
        row = {
            "kind": "fit",
            "library": lib,
            "family": family,
            "version": adapter.version,
            "target": target_name,
            "seed": seed,
            "steps": steps,
            "threads": threads,
            "parameters": adapter.n_parameters(),
        }
        try:
            wall, cpu, last = train(adapter, data, opt)
            row.update(wall_s=wall, cpu_s=cpu, final_loss=last)
            if not math.isfinite(last):
                raise FloatingPointError(f"the loss became {last}")
            row.update(checks(adapter, target_name, seed))
            row["status"] = "ok"
        except Exception as e:  # a diverged peer is a result, not a crash of the benchmark
            row.update(status="failed", error=f"{type(e).__name__}: {e}")
        print(json.dumps(row), flush=True)


def speed(steps: int, rounds: int, family: str = "affine") -> None:
    """steps/s of each library, in interleaved chunks (A B C A B C ...) so slow drifts in load hit all alike.

    ``family`` "affine": the three libraries and the conditioners alone; "spline": lessonlib's and zuko's spline flows.
    """
    threads = set_threads()
    data = batches("two_moons", 0, steps * rounds)
    models = {}
    libraries = (*ADAPTERS, ConditionersOnly.library) if family == "affine" else SPLINE_LIBRARIES
    for lib in libraries:
        torch.manual_seed(0)
        adapter = build(lib, 0, family) if lib in ADAPTERS else ConditionersOnly()
        models[lib] = (adapter, torch.optim.Adam(adapter.model.parameters(), lr=LR))
        train(adapter, data[:20], models[lib][1])  # warm-up: first calls allocate
    times: dict[str, dict[str, list[float]]] = {lib: {"wall": [], "cpu": []} for lib in models}
    for r in range(rounds):
        chunk = data[r * steps : (r + 1) * steps]
        for lib, (adapter, opt) in models.items():
            wall, cpu, _ = train(adapter, chunk, opt)
            times[lib]["wall"].append(wall)
            times[lib]["cpu"].append(cpu)
    for lib, (adapter, _) in models.items():
        row = {
            "kind": "speed",
            "library": lib,
            "family": family,
            "version": adapter.version,
            "threads": threads,
            "steps_per_chunk": steps,
            "rounds": rounds,
            "wall_s": times[lib]["wall"],
            "cpu_s": times[lib]["cpu"],
        }
        print(json.dumps(row), flush=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["fit"]:
        fit(json.loads(argv[1]), float(argv[2]) if len(argv) > 2 else None)
    elif argv[:1] == ["speed"]:
        speed(int(argv[1]), int(argv[2]), *argv[3:4])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
