"""Cost per student: the measuring pieces of benchmarks/kernel_cost.py and the instructors' table of
benchmarks/cost_table.py, on rows whose limits and hub sizes are worked out by hand below."""

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from benchmarks import cost_table
from benchmarks.kernel_cost import MB, PeakSampler, high_water_mark, tree_rss

ROOT = Path(__file__).resolve().parent.parent
HOLD = "import sys, time; x = bytearray(200 * 2**20); print('ready', flush=True); time.sleep(30)"


def test_a_process_tree_counts_its_children_and_the_sampler_sees_the_peak():
    shell = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "{HOLD}"'], stdout=subprocess.PIPE, text=True)
    try:
        parent = psutil.Process(shell.pid)
        with PeakSampler(parent) as sampler:
            assert shell.stdout.readline().strip() == "ready"  # the child holds 200 MiB now
        assert parent.memory_info().rss < 50 * MB  # the shell itself is small
        assert tree_rss(parent) > 200 * MB and sampler.peak > 200 * MB
        child = parent.children()[0]
        assert high_water_mark(child.pid) >= child.memory_info().rss > 200 * MB
    finally:
        for p in psutil.Process(shell.pid).children(recursive=True):
            p.kill()
        shell.kill()
        shell.wait()


def rows() -> list[dict]:
    kernel = {"kind": "kernel", "status": "ok", "problems": []}
    return [
        {
            **kernel,
            "notebook": "00_a.ipynb",
            "run_all_s": 3.7,
            "start_cpu_s": 1.2,
            "kernel_cpu_s": 3.5,
            "peak_rss_mb": 270.0,
            "idle_rss_mb": 260.0,
        },
        {
            **kernel,
            "notebook": "05_b.ipynb",
            "run_all_s": 26.0,
            "start_cpu_s": 1.4,
            "kernel_cpu_s": 25.0,
            "peak_rss_mb": 400.0,
            "idle_rss_mb": 350.0,
        },
        {
            **kernel,
            "notebook": "06_c.ipynb",
            "status": "failed",
            "problems": ["code cell 2: boom"],
            "run_all_s": 1.0,
            "start_cpu_s": 1.0,
            "kernel_cpu_s": 99.0,
            "peak_rss_mb": 9999.0,
            "idle_rss_mb": 9999.0,
        },
        {"kind": "server", "notebooks_open": 3, "idle_rss_mb": 90.0, "open_rss_mb": 120.0, "kernels_rss_mb": 900.0},
    ]


def results() -> dict:
    return {
        "date": "2026-01-01",
        "machine": {"cpu": "Test CPU", "cpus": 2, "memory_gib": 23.4, "load_start": [0.2], "commit": "abc1234"},
        "widgets": [{"status": "ok", "cpu_median_ms": 12.3}, {"status": "ok", "cpu_median_ms": 17.6}],
        "cost": rows(),
    }


def test_limits_follow_from_the_measured_rows():
    s = cost_table.per_student(rows())  # the failed notebook counts in no figure
    assert (s["server_mb"], s["idle_mb"], s["peak"]["notebook"], s["cpu"]["notebook"]) == (
        120.0,
        350.0,
        "05_b.ipynb",
        "05_b.ipynb",
    )
    assert s["guarantee_mb"] == 512  # 120 + 350 = 470, up to a multiple of 64
    assert s["limit_mb"] == 896  # 120 + 400 + 1 x 350 = 870, up to a multiple of 64
    assert s["all_open_mb"] == 1020.0 and s["cores"] == pytest.approx(25 / 26)


def test_table_shows_the_notebooks_the_limits_and_the_nodes():
    text = cost_table.render(results())
    assert "| `05_b.ipynb` | 26.0 | 25.0 | 1.4 | 400 | 350 |" in text
    assert "| `06_c.ipynb` | **failed**: code cell 2: boom |" in text
    assert "90 MiB before any notebook was opened, 120 MiB with 3 notebooks open" in text
    assert "| memory guarantee | 512M |" in text and "| memory limit | 896M |" in text
    assert "guarantee: 512M" in text and "limit: 896M" in text and "limits.memory 896M" in text
    # usable memory (GiB - 2) x 1024 MiB: 14336 // 896 = 16, // 512 = 28; 200 / 16 -> 13 nodes; 16 x 25 s / 4 vCPU
    assert "| 4 vCPU, 16 GiB | 16 | 28 | 13 | 100 s |" in text
    assert "| 8 vCPU, 32 GiB | 34 | 60 | 6 | 106 s |" in text
    assert "| 16 vCPU, 64 GiB | 70 | 124 | 3 | 109 s |" in text
    assert "holds 1020 MiB" in text and "at most 18 ms of CPU" in text and "23.4 GiB" in text


def test_the_summary_gives_the_limits_and_the_largest_node():
    text = cost_table.render_summary(results())
    assert "Set a memory guarantee of 512M, a limit of 896M and 1 CPU" in text
    assert "16 vCPU and 64 GiB then holds 70 students" in text and "needs 3 such nodes" in text


def test_rows_that_cannot_give_limits_say_so_and_malformed_ones_are_refused():
    r = results()
    r["cost"] = [row for row in rows() if row["kind"] == "kernel"]  # no server row
    assert cost_table.render(r).startswith("Not measured yet")
    assert cost_table.render_summary(r).startswith("Not measured yet")
    for broken in ({"kind": "kernel", "notebook": "x"}, {"kind": "browser"}):
        with pytest.raises(ValueError):
            cost_table.validate([broken])
    with pytest.raises(ValueError, match="more than one server"):
        cost_table.validate(rows() + rows()[-1:])


def test_the_hubs_document_has_the_cost_block_and_the_readme_its_summary_for_instructors():
    hubs = (ROOT / "docs" / "hubs.md").read_text()
    assert hubs.count(cost_table.BEGIN) == 1 and hubs.count(cost_table.END) == 1
    text = (ROOT / "README.md").read_text()
    assert text.count(cost_table.SUMMARY_BEGIN) == 1 and text.count(cost_table.SUMMARY_END) == 1
    assert text.index("## For instructors") < text.index(cost_table.SUMMARY_BEGIN) < text.index("## The library")
