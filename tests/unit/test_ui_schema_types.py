"""The UI's typed client (frontend/src/api/schema.d.ts) is exactly what the generator makes
from frontend/openapi.json, so a hand edit or a forgotten regeneration fails here.
(test_openapi_client.py checks openapi.json against the API itself.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


@pytest.mark.skipif(
    not (FRONTEND / "node_modules" / ".bin" / "openapi-typescript").exists(),
    reason="frontend/node_modules is not installed (make ui)",
)
def test_schema_types_are_what_the_generator_makes() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed to run the generator"
    result = subprocess.run(
        [npm, "run", "--silent", "check:api"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        "frontend/src/api/schema.d.ts differs from what openapi-typescript makes of "
        "openapi.json; run `cd frontend && npm run gen:api`\n" + result.stdout[-3000:]
    )
