"""``python -m keyhouse.testing.fakes NAME [--port P] [--credential K=V ...]``

Starts one provider fake in the foreground, for demos and manual tests.
"""

from __future__ import annotations

import argparse
import importlib

import uvicorn

from keyhouse.testing.fakes import FAKES


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m keyhouse.testing.fakes")
    parser.add_argument("name", choices=sorted(FAKES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--credential", action="append", default=[], metavar="FIELD=VALUE",
                        help="a credential the fake accepts, e.g. api_key=sk-test")
    args = parser.parse_args()
    module_name, _, func = FAKES[args.name].partition(":")
    factory = getattr(importlib.import_module(module_name), func)
    kwargs = dict(item.split("=", 1) for item in args.credential)
    app = factory(**kwargs)
    print(f"fake {args.name} on http://{args.host}:{args.port} accepting {sorted(kwargs)}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
