"""The fakes' ``--help`` lists every fake, the credentials it takes and the models it
lists, and a credential it does not take is refused by name."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

from keyhouse.testing.fakes import FAKES


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyhouse.testing.fakes", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_fake_its_credentials_and_models() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for name, target in FAKES.items():
        module_name, _, func = target.partition(":")
        module = importlib.import_module(module_name)
        assert f"\n  {name}\n" in text
        for param in inspect.signature(getattr(module, func)).parameters:
            assert param in text, (name, param)
        for model in getattr(module, "MODELS", ()):
            assert (model[0] if isinstance(model, tuple) else model) in text, (name, model)
    assert "fail-503" in text and "slow" in text


def test_a_credential_the_fake_does_not_take_is_refused_by_name() -> None:
    result = _run("anthropic", "--credential", "nope=1")
    assert result.returncode == 2
    assert "the anthropic fake takes api_key" in result.stderr
