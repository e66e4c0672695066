"""Plots: matplotlib is imported when a figure is drawn, and the user's backend is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np


def _run(code: str, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environ).stdout.strip()


def test_importing_the_plot_modules_does_not_import_matplotlib():
    code = "import sys, emoalign.eval.plots, emoalign.pair.report, emoalign.learn.adapter_eval; print('matplotlib' in sys.modules)"
    assert _run(code) == "False"


def test_headless_drawing_selects_agg():
    code = "from emoalign.eval.plots import pyplot; import matplotlib; pyplot(); print(matplotlib.get_backend().lower())"
    assert _run(code) == "agg"


def test_a_backend_the_user_chose_is_kept():
    code = ("import matplotlib; matplotlib.use('svg'); from emoalign.eval.plots import pyplot; pyplot(); "
            "print(matplotlib.get_backend().lower())")
    assert _run(code) == "svg"
    code = "from emoalign.eval.plots import pyplot; import matplotlib; pyplot(); print(matplotlib.get_backend().lower())"
    assert _run(code, MPLBACKEND="pdf") == "pdf"


def test_plots_write_pngs(tmp_path):
    from emoalign.eval.plots import plot_confusion, plot_per_class

    png = plot_confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], tmp_path / "cm.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = plot_per_class({"a": {"recall": 0.5, "f1": 0.4}, "b": {"recall": 1.0, "f1": 0.9}}, tmp_path / "pc.png")
    assert png.stat().st_size > 1000
