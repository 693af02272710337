"""Execution providers: the CPU always, others when the runtime has them, else a warning."""

from conftest import read_wav, run_cli


def test_runtime_lists_its_providers():
    from vocalize import _native
    from vocalize.assets import paths

    _native.init(str(paths.ort_library()))
    available = _native.available_providers()
    assert "CPUExecutionProvider" in available
    assert ("cpu", "CPUExecutionProvider") in _native.known_providers()
    assert "ORT" in _native.runtime_info()


def test_a_missing_provider_falls_back_to_the_cpu_with_a_warning(tmp_path):
    out = tmp_path / "cuda.wav"
    result = run_cli("speak", "Hello there.", "-o", str(out), "--provider", "cuda")
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "no CUDAExecutionProvider" in err and "using the CPU" in err
    assert len(read_wav(out)) > 12000


def test_an_unknown_provider_is_a_one_line_error(tmp_path):
    out = tmp_path / "x.wav"
    result = run_cli("speak", "Hello.", "-o", str(out), "--provider", "warp-drive")
    err = result.stderr.decode().strip()
    assert result.returncode == 1
    assert err.count("\n") == 0 and "unknown execution provider 'warp-drive'" in err
    assert not out.exists()


def test_engine_provider_argument():
    import vocalize

    engine = vocalize.Engine(provider="CPUExecutionProvider")
    assert engine.provider == "cpu"
