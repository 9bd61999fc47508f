"""The README's no-account demo, run from README.md itself (the way datasette tests its
documentation): a README edit that breaks the demo fails here.

The two shell blocks after ``<!-- demo: servers -->`` and ``<!-- demo: client -->`` are
read from the README. The servers block is interpreted line by line (each line must be
one this test knows how to run, so a new step cannot slip in untested); the client block
runs in bash exactly as printed, after three substitutions a reader makes by hand: the
admin token the server printed, and free ports instead of 5000 and 9001.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from keyhouse.testing.fakes.server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
README_PORT = "5000"
FAKE_PORT = "9001"


def demo_block(name: str) -> str:
    """The first fenced block after the ``<!-- demo: NAME`` marker."""
    text = README.read_text()
    marker = re.search(rf"<!-- demo: {name}\b.*?-->\s*```sh\n(.*?)```", text, re.S)
    assert marker, f"README.md lost its `<!-- demo: {name} -->` block"
    return marker.group(1)


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def make_recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert m, f"Makefile has no {target} target"
    return [line.strip() for line in m.group(1).splitlines()]


def _env() -> dict[str, str]:
    # The reader's shell: no KEYHOUSE_* settings of the developer running the tests.
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYHOUSE_")}


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{proc.args!r} did not come up:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


def test_readme_demo_prints_echo_hello(tmp_path: Path) -> None:
    fake_port, port = str(free_port()), str(free_port())
    admin_token = ""
    with ExitStack() as stack:
        for line in commands(demo_block("servers")):
            words = shlex.split(line)
            # `KEY=VALUE ... command`: the shell's per-command environment.
            env = _env()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            if words == ["make", "install"]:
                # Not re-run here (the suite already runs in that virtualenv); what it
                # installs is checked by test_the_demo_imports_are_installed_by_make_install.
                continue
            if words[:1] == [".venv/bin/python"] and words[-1] == "&":
                argv = [str(BIN / "python"), *words[1:-1]]
                assert FAKE_PORT in argv, "the demo's fake no longer listens on 9001"
                argv = [fake_port if w == FAKE_PORT else w for w in argv]
                log = tmp_path / "fake.log"
                proc = stack.enter_context(_process(argv, env, log))
                _wait_for(f"http://127.0.0.1:{fake_port}/", proc, log)
                continue
            if words == ["make", "run"]:
                # `make run` is `install ui` then this command; run it on a free port
                # through KEYHOUSE_PORT (which the README documents) in a fresh home.
                assert make_recipe("run")[-1] == "$(BIN)/keyhouse serve", make_recipe("run")
                env.update(KEYHOUSE_PORT=port, KEYHOUSE_HOME=str(tmp_path / "home"))
                log = tmp_path / "serve.log"
                proc = stack.enter_context(_process([str(BIN / "keyhouse"), "serve"], env, log))
                _wait_for(f"http://127.0.0.1:{port}/healthz", proc, log)
                printed = re.search(r"\b(kh_admin_[A-Za-z0-9_-]{20,})", log.read_text())
                assert printed, f"the server printed no admin token:\n{log.read_text()}"
                admin_token = printed.group(1)
                continue
            pytest.fail(f"the README's demo has a command this test cannot run: {line!r}")
        assert admin_token, "the demo's servers block never starts Keyhouse"

        script = demo_block("client")
        for placeholder in (
            "kh_admin_...",
            f"127.0.0.1:{README_PORT}",
            f"127.0.0.1:{FAKE_PORT}",
            ".venv/bin/",
        ):
            assert placeholder in script, f"the client block no longer contains {placeholder!r}"
        script = (
            script.replace("kh_admin_...", admin_token)
            .replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}")
            .replace(f"127.0.0.1:{FAKE_PORT}", f"127.0.0.1:{fake_port}")
            .replace(".venv/bin/", f"{BIN}/")
        )
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "echo: hello", result.stdout


def _distributions(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def test_the_demo_imports_are_installed_by_make_install() -> None:
    """What the demo's Python imports comes from what `make install` installs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (install,) = make_recipe(r"\$\(VENV\)/\.installed")[:1]
    extras = re.search(r"-e '\.\[([a-z,]+)\]'", install)
    installed = _distributions(project["dependencies"])
    for extra in extras.group(1).split(",") if extras else []:
        installed |= _distributions(project["optional-dependencies"][extra])
    script = demo_block("client")
    snippets = re.findall(r'python -c "(.*?)"', script, re.S)
    assert snippets, "the client block has no Python snippet"
    imported = {
        alias.name.split(".")[0]
        if isinstance(node, ast.Import)
        else (node.module or "").split(".")[0]
        for snippet in snippets
        for node in ast.walk(ast.parse(snippet))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    third_party = {name for name in imported if name not in sys.stdlib_module_names}
    assert third_party, "the snippet imports no SDK: has it changed?"
    assert third_party <= installed, (
        f"the demo imports {sorted(third_party - installed)}, which `make install` "
        f"({install!r}) does not install"
    )
