"""``python -m keyhouse.openapi`` prints the admin and gateway OpenAPI schema (used to
generate the web UI's typed client). It needs no database."""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def schema() -> dict[str, Any]:
    from keyhouse.admin.routers import DEPENDENCIES, ROUTERS

    app = FastAPI(title="Keyhouse", version="0.1.0")
    for router in ROUTERS:
        app.include_router(router, dependencies=DEPENDENCIES)
    return get_openapi(title=app.title, version=app.version, routes=app.routes)


if __name__ == "__main__":
    json.dump(schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
