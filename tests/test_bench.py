"""The benchmark's own pieces, fast: the JSON schema, the README table generator, and the lessonlib side
of the flow adapters (zuko and normflows live only in .venv-bench, so their adapters are not run here)."""

import copy
import math
import re
import statistics
from pathlib import Path

import pytest
import torch

from benchmarks import report
from benchmarks.adapters import build
from benchmarks.flows_worker import checks, train
from benchmarks.widget_latency import discover, percentile

ROOT = Path(__file__).resolve().parent.parent


def fake_results() -> dict:
    fits = []
    for lib, gaps in (("lessonlib", [0.05, 0.07, 0.06]), ("zuko", [0.03, 0.04, 0.05]), ("normflows", [0.2, 0.3, 0.25])):
        for seed, g in enumerate(gaps):
            fits.append(
                {
                    "library": lib,
                    "version": "1",
                    "target": "two_moons",
                    "seed": seed,
                    "status": "ok",
                    "kl_gap": g,
                    "round_trip_error": 1e-6,
                    "log_det_error": 1e-15,
                    "parameters": 10,
                }
            )
    fits.append({"library": "normflows", "target": "banana", "seed": 0, "status": "failed", "error": "diverged"})
    fits.append(
        {
            "library": "lessonlib",
            "version": "1",
            "target": "banana",
            "seed": 0,
            "status": "ok",
            "kl_gap": 0.004,
            "round_trip_error": 1e-6,
            "log_det_error": 1e-15,
            "parameters": 10,
        }
    )
    speed = [
        {"library": lib, "threads": t, "steps_per_chunk": 100, "wall_s": [w, w], "cpu_s": [c, c]}
        for lib, t, w, c in (
            ("lessonlib", 1, 9.0, 1.0),
            ("zuko", 1, 1.0, 1.1),
            ("normflows", 1, 1.0, 1.0),
            ("lessonlib", 2, 0.5, 2.0),
            ("zuko", 2, 1.0, 2.0),
            ("normflows", 2, 1.0, 2.0),
        )
    ]
    return {
        "schema": report.SCHEMA,
        "date": "2026-01-01",
        "duration_s": 600.0,
        "machine": {
            "cpu": "Test CPU",
            "cpus": 2,
            "load_start": [0.1, 0.1, 0.1],
            "load_end": [1.0, 1.0, 1.0],
            "versions": {"torch": "2.13.0", "zuko": "1.6.0"},
            "commit": "abc1234",
            "python": "3.11",
        },
        "settings": {"steps": 2000, "seeds": 3, "widget_repeats": 2, "check_samples": 10, "autograd_points": 4},
        "course": [
            {"notebook": "00_start_here.ipynb", "status": "ok", "seconds": 5.0, "kernel_cpu_s": 3.0},
            {"notebook": "05_stacking.ipynb", "status": "ok", "seconds": 45.0, "kernel_cpu_s": 40.0},
            {"notebook": "06_x.ipynb", "status": "ok", "seconds": 31.0, "kernel_cpu_s": 30.0},
        ],
        "widgets": [
            {"widget": "Fast", "status": "ok", "n": 10, "median_ms": 12.0, "p90_ms": 20.0, "notebooks": ["01_a.ipynb"]},
            {
                "widget": "Slow",
                "status": "ok",
                "n": 10,
                "median_ms": 45.0,
                "p90_ms": 60.0,
                "notebooks": [],
                "redraws": {"blit": 7, "full": 3},
            },
            {"widget": "NeedsArgs", "status": "skipped", "error": "needs arguments ['flow']"},
        ],
        "browser": {"00_start_here.ipynb": {"median_ms": 80.0, "p90_ms": 95.0, "n": 10}},
        "fits": fits,
        "speed": speed,
    }


def test_fake_results_pass_the_schema_and_broken_ones_do_not():
    r = fake_results()
    report.validate(r)
    for key in ("course", "machine", "fits"):
        broken = copy.deepcopy(r)
        del broken[key]
        with pytest.raises(ValueError, match=key):
            report.validate(broken)
    broken = copy.deepcopy(r)
    del broken["fits"][0]["kl_gap"]
    with pytest.raises(ValueError, match="kl_gap"):
        report.validate(broken)


def test_table_shows_every_part_and_judges_the_targets():
    text = report.render(fake_results())
    assert "| `05_stacking.ipynb` | 45.0 | 40.0 | 60 | yes |" in text  # notebook 05 has a 60 s limit
    assert "| `06_x.ipynb` | 31.0 | 30.0 | 30 | **no** |" in text
    assert f"| **all** | 81.0 | 73.0 | {report.TOTAL_LIMIT_S:.0f} | yes |" in text
    assert "| `Slow` | - | 10 | 7 / 3 | 45.0 | 60.0 |" in text and "not measured: needs arguments" in text
    assert "| `00_start_here.ipynb` | 10 | 80 | 95 | yes |" in text
    # KL: lessonlib mean 0.06, zuko 0.04 -> worse by 0.02; standard error of three values shown
    assert re.search(
        r"\| two_moons \| 0\.060 ± 0\.006 \| 0\.040 ± 0\.006 \| .* \| zuko \| \+0\.020 \| \(reading\) \|", text
    )
    assert "(1 diverged)" in text
    # 1 thread uses CPU time (lessonlib 100/1.0 vs zuko 100/1.1 -> 1.10x), 2 threads the wall clock (2.00x)
    assert "| 1 | 100 | 91 | 100 | 1.10x | 1.00x | **no** |" in text
    assert "| 2 | 200 | 100 | 100 | 2.00x | 2.00x | (speed only) |" in text
    missed = report.targets_missed(fake_results())
    assert any("06_x.ipynb took 31.0 s" in m for m in missed)
    assert any("Slow" in m and "1.5x" in m for m in missed)
    assert any("1.10x zuko" in m and "1.2x" in m for m in missed)
    # judged on the mean over the targets both finished (two_moons here): worse by 0.020 nats
    assert any("KL gap averaged over targets and seeds" in m and "worse by 0.020 nats" in m for m in missed)
    assert not any("banana" in m for m in missed)  # no peer finished banana: nothing to compare


def test_missing_browser_file_is_said_in_the_table():
    r = fake_results()
    r["browser"] = None
    assert "Not measured: `benchmarks/results/browser_latency.json` was missing" in report.render(r)


def test_drag_table_shows_each_drag_and_judges_it_against_the_targets():
    r = fake_results()
    smooth = {
        "what": "slider 0",
        "frames": 25,
        "fps": 24.0,
        "settle_ms": 40.0,
        "accepted_s": 1.05,
        "busy": 0.6,
        "moves_seen": 60,
        "main_cpu_ms": 500.0,
    }
    choppy = dict(smooth, what="knot 4", fps=8.0, settle_ms=300.0)
    filmed = dict(smooth, positions=31, film_wait_s=0.64, lag_ms=21.0)
    coarse = dict(
        smooth, what="slider 1", frames=3, fps=2.9, positions=4, lag_ms=18.4, main_cpu_ms=60.0
    )  # each of 3 moves shown at once
    late = dict(coarse, what="slider 2", lag_ms=70.0)  # a position shown 70 ms after the slider reached it
    lost = dict(coarse, what="slider 3", lag_ms=-1.0)  # a position the slider showed was never painted
    held = dict(
        choppy, what="knot 5", settle_ms=0.0, held_after_s=0.25, fps_moving=40.0
    )  # refused from 0.25 s on: the picture holds
    stuck = dict(held, what="knot 3", fps_moving=8.0)
    r["drag"] = {
        "presenter": {
            "01_a.ipynb": {"drags": [smooth, choppy, filmed, coarse, late, lost, held, stuck], "load": [1.5, 1.0, 1.0]}
        }
    }
    text = report.render(r)
    assert "| `01` | presenter | slider 0 | 25 | 24.0 | 40 | 1.05 | 60% | 20 | - | - | - | - | 1.5 | yes |" in text
    assert "| `01` | presenter | knot 4 | 25 | 8.0 | 300 | 1.05 | 60% | 20 | - | - | - | - | 1.5 | **no** |" in text
    assert "| `01` | presenter | slider 0 | 25 | 24.0 | 40 | 1.05 | 60% | 20 | - | 31 | 21 | 0.64 | 1.5 | yes |" in text
    assert "| `01` | presenter | slider 1 | 3 | 2.9 | 40 | 1.05 | 60% | 20 | - | 4 | 18 | - | 1.5 | yes |" in text
    assert "| `01` | presenter | slider 2 | 3 | 2.9 | 40 | 1.05 | 60% | 20 | - | 4 | 70 | - | 1.5 | **no** |" in text
    assert (
        "| `01` | presenter | slider 3 | 3 | 2.9 | 40 | 1.05 | 60% | 20 | - | 4 | not painted | - | 1.5 | **no** |"
        in text
    )
    assert (
        "| `01` | presenter | knot 5 | 25 | 8.0 | 0 | 1.05 | 60% | 20 | 40.0 (refused after 0.25 s) | - | - | - | 1.5 | yes |"
        in text
    )
    assert (
        "| `01` | presenter | knot 3 | 25 | 8.0 | 0 | 1.05 | 60% | 20 | 8.0 (refused after 0.25 s) | - | - | - | 1.5 | **no** |"
        in text
    )
    missed = [m for m in report.targets_missed(r) if m.startswith("dragging")]
    assert (
        len(missed) == 4
        and "knot 3" in missed[3]
        and "knot 4" in missed[0]
        and "8.0 fps" in missed[0]
        and "load 1.5" in missed[0]
    )
    assert "slider 2" in missed[1] and "each position within 50 ms: 70" in missed[1] and "not painted" in missed[2]
    r["drag"] = None
    assert "Not measured: `benchmarks/results/browser_drag.json` was missing" in report.render(r)


def test_a_table_is_replaced_between_the_markers_only():
    readme = f"# T\n\nbefore\n\n{report.BEGIN}\nold table\n{report.END}\n\nafter\n"
    new = report.replace_between(readme, "NEW")
    assert new == f"# T\n\nbefore\n\n{report.BEGIN}\nNEW\n{report.END}\n\nafter\n"
    assert report.replace_between(new, "NEWER").count(report.BEGIN) == 1
    with pytest.raises(ValueError, match="markers"):
        report.replace_between("# no markers", "x")


def test_the_benchmarks_document_has_the_markers():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1


def test_benchmark_torch_pin_matches_the_course():
    pin = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch==")]
    bench = (ROOT / "benchmarks" / "requirements.txt").read_text().splitlines()
    assert pin and pin[0] in bench
    for line in bench:  # every requirement pinned: an unpinned torch would pull a CUDA build
        if line and not line.startswith("#"):
            assert "==" in line, line


def test_lessonlib_adapter_log_prob_agrees_with_its_maps():
    a = build("lessonlib", seed=0)
    with torch.no_grad():  # make the layers non-trivial
        for p in a.model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    z, ld_inv = a.inverse_and_log_det(x)
    x_back, ld_fwd = a.forward_and_log_det(z)
    torch.testing.assert_close(x_back, x)
    torch.testing.assert_close(ld_fwd, -ld_inv)  # opposite directions, opposite log-dets
    torch.testing.assert_close(a.log_prob(x), a.base_log_prob(z) + ld_inv)
    torch.testing.assert_close(a.log_prob(x), a.flow.log_prob(x))
    assert a.n_parameters() == sum(p.numel() for p in a.flow.parameters())


def test_unknown_library_is_refused():
    with pytest.raises(ValueError, match="unknown library"):
        build("tensorflow", seed=0)


def test_training_loop_and_checks_on_lessonlib(monkeypatch):
    import benchmarks.flows_worker as fw

    for name, small in (("KL_SAMPLES", 2000), ("CHECK_SAMPLES", 500), ("AUTOGRAD_POINTS", 8)):
        monkeypatch.setattr(fw, name, small)
    a = build("lessonlib", seed=0)
    data = torch.randn(5, 64, 2, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(a.model.parameters(), lr=1e-3)
    wall, cpu, last = train(a, data, opt)
    assert wall > 0 and cpu > 0 and math.isfinite(last)
    out = checks(a, "banana", seed=0)
    assert set(out) == {"kl_gap", "kl_gap_mc_se", "round_trip_error", "log_det_error"}
    assert out["kl_gap"] > 0 and out["kl_gap_mc_se"] > 0
    assert out["round_trip_error"] < 1e-4 and out["log_det_error"] < 1e-9


def test_widgets_are_discovered_and_percentiles_interpolate():
    from lessonlib.ui.widgetkit import LessonWidget

    found = discover()
    assert all(issubclass(cls, LessonWidget) for _, cls in found)
    assert all(re.fullmatch(r"lessonlib\.lessons\.l\d\d_\w+\.widgets", module) for module, _ in found)
    lessons = sorted(p.parent.name for p in (ROOT / "lessonlib" / "lessons").glob("*/widgets.py"))
    assert sorted({module.split(".")[2] for module, _ in found}) == lessons  # every lesson's widgets are found
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)
    assert percentile([7.0], 0.5) == 7.0


def test_parts_not_measured_are_said_not_passed():
    r = fake_results()
    r["course"], r["widgets"] = [], []
    text = report.render(r)
    assert text.count("not measured in this run") == 2
    assert "| **all** |" not in text


def with_spline_rows(r: dict) -> dict:
    """fake_results plus the spline family: lessonlib and zuko NSF on two targets, three seeds, and their speed."""
    r = copy.deepcopy(r)
    for lib, target, gaps in (
        ("lessonlib", "two_moons", [0.02, 0.03, 0.04]),
        ("zuko", "two_moons", [0.02, 0.02, 0.02]),
        ("lessonlib", "banana", [0.01, 0.01, 0.01]),
        ("zuko", "banana", [0.03, 0.04, 0.05]),
    ):
        for seed, g in enumerate(gaps):
            r["fits"].append(
                {
                    "library": lib,
                    "family": "spline",
                    "version": "1",
                    "target": target,
                    "seed": seed,
                    "status": "ok",
                    "kl_gap": g,
                    "round_trip_error": 2e-6,
                    "log_det_error": 1e-14,
                    "parameters": 7,
                }
            )
    r["speed"] += [
        {"library": lib, "family": "spline", "threads": 1, "steps_per_chunk": 100, "wall_s": [c, c], "cpu_s": [c, c]}
        for lib, c in (("lessonlib", 2.0), ("zuko", 3.0))
    ]
    return r


def test_spline_rows_stay_out_of_the_affine_tables():
    plain, both = fake_results(), with_spline_rows(fake_results())
    assert report.kl_summary(both["fits"]) == report.kl_summary(plain["fits"])
    assert report.speed_summary(both["speed"]) == report.speed_summary(plain["speed"])
    assert set(report.kl_summary(both["fits"], "spline")) == {"two_moons", "banana"}
    assert report.speed_summary(both["speed"], "spline") == {1: {"lessonlib": 50.0, "zuko": 100 / 3}}


def test_spline_table_judges_the_mean_over_targets_and_seeds():
    r = with_spline_rows(fake_results())
    c = report.spline_comparison(r)
    # per-target means: lessonlib 0.03 and 0.01, zuko 0.02 and 0.04; averaged over the two targets: 0.02 and 0.03
    assert c["lessonlib"]["mean"] == pytest.approx(0.02) and c["zuko"]["mean"] == pytest.approx(0.03)
    se_moons = statistics.stdev([0.02, 0.03, 0.04]) / math.sqrt(3)  # banana's lessonlib seeds agree: se 0
    assert c["lessonlib"]["se"] == pytest.approx(se_moons / 2) and c["lessonlib"]["runs"] == 6
    assert c["diff"]["mean"] == pytest.approx(-0.01) and c["speed_ratio"] == pytest.approx(1.5)
    text = report.render(r)
    assert "**Spline flows: lessonlib against zuko's NSF.**" in text
    assert "| **mean over targets and seeds** | 0.020 ± 0.003 | 0.030 ± 0.003 |" in text
    assert "-0.010 ± 0.004 nats, yes" in text and "1.50x, yes" in text
    assert "| lessonlib, spline | 1 | 7 |" in text and "| zuko, spline | 1 | 7 |" in text
    assert not any("spline" in m for m in report.targets_missed(r))
    slow = copy.deepcopy(r)
    for row in slow["speed"]:
        if row.get("family") == "spline" and row["library"] == "lessonlib":
            row["cpu_s"] = [3.0, 3.0]
    slow["fits"] = [
        dict(f, kl_gap=f["kl_gap"] + 0.1) if f.get("family") == "spline" and f["library"] == "lessonlib" else f
        for f in slow["fits"]
    ]
    missed = [m for m in report.targets_missed(slow) if "spline" in m]
    assert len(missed) == 2 and "1.00x zuko NSF" in missed[0] and "worse by 0.090" in missed[1]


def test_results_without_the_spline_family_say_so():
    text = report.render(fake_results())
    assert "Not measured in this run (its results predate the spline family)" in text


def test_lessonlib_spline_adapter_is_a_flow_of_spline_couplings():
    from benchmarks import adapters
    from lessonlib.splines import SplineCoupling, spline_parameter_count

    assert adapters.SPLINE_LIBRARIES == report.SPLINE_LIBRARIES
    a = build("lessonlib", seed=0, family="spline")
    assert a.family == "spline" and all(isinstance(layer, SplineCoupling) for layer in a.flow.bijector)
    assert a.n_parameters() == adapters.N_LAYERS * spline_parameter_count(1, 1, adapters.N_BINS, adapters.HIDDEN)
    with torch.no_grad():
        for p in a.model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    x = 2 * torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    z, ld_inv = a.inverse_and_log_det(x)
    x_back, ld_fwd = a.forward_and_log_det(z)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ld_fwd, -ld_inv, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.log_prob(x), a.base_log_prob(z) + ld_inv)
    assert (z - x).abs().max() > 1e-3  # the perturbed layers are not the identity
    b = build("lessonlib", seed=1, family="spline")
    assert any((p - q).abs().max() > 0 for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_families_without_an_adapter_are_refused():
    with pytest.raises(ValueError, match="no spline adapter"):
        build("normflows", seed=0, family="spline")
    with pytest.raises(ValueError, match="unknown flow family"):
        build("lessonlib", seed=0, family="planar")


def test_a_spline_job_runs_through_the_worker(monkeypatch, capsys):
    import json

    import benchmarks.flows_worker as fw

    for name, small in (("KL_SAMPLES", 2000), ("CHECK_SAMPLES", 500), ("AUTOGRAD_POINTS", 8), ("BATCH", 64)):
        monkeypatch.setattr(fw, name, small)
    fw.fit([{"library": "lessonlib", "target": "two_moons", "seed": 0, "steps": 3, "family": "spline"}])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["family"] == "spline" and row["library"] == "lessonlib"
    assert row["round_trip_error"] < 1e-4 and row["log_det_error"] < 1e-9 and row["kl_gap"] > 0
