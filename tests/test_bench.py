"""`vocalize bench`: the figures it prints and their shape."""

import json

import pytest

from conftest import run_cli


def test_bench_json_reports_every_figure():
    result = run_cli("bench", "--runs", "2", "--text", "A short sentence to time.", "--json", "--threads", "1")
    assert result.returncode == 0, result.stderr.decode()
    figures = json.loads(result.stdout)
    assert figures["threads"] == 1 and figures["provider"] == "cpu" and figures["runs"] == 2
    assert len(figures["first_audio_ms_runs"]) == 2
    assert 0 < figures["first_audio_ms"] <= figures["synthesis_seconds"] * 1000
    assert figures["audio_seconds"] > 2 * 1.0  # two runs of a sentence over a second long
    assert figures["real_time_factor"] == pytest.approx(figures["audio_seconds"] / figures["synthesis_seconds"], abs=0.005)
    assert figures["model_load_ms"] > 0 and figures["frontend_setup_ms"] > 0
    assert 100 < figures["peak_rss_mb"] < 4000


def test_bench_text_output_names_each_figure():
    result = run_cli("bench", "--runs", "1", "--text", "Hi there.")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    for label in ("model load", "first audio", "real-time factor", "peak memory"):
        assert label in out
