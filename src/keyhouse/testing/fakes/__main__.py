"""``python -m keyhouse.testing.fakes NAME [--port P] [--credential K=V ...]``

Starts one provider fake in the foreground, for demos and manual tests. ``--help`` lists
every fake, the credentials it takes and the models it answers, read from the fakes
themselves so the list cannot go stale.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import uvicorn

from keyhouse.testing.fakes import FAKES

# The conventions every fake shares (keyhouse/testing/fakes/__init__.py).
SPECIAL_MODELS = ("fail-503", "fail-429", "fail-400", "slow")


def factory(name: str) -> Callable[..., Any]:
    module_name, _, func = FAKES[name].partition(":")
    return getattr(importlib.import_module(module_name), func)  # type: ignore[no-any-return]


def credential_fields(name: str) -> dict[str, Any]:
    """The credentials a fake accepts (its factory's parameters) and their defaults."""
    return {p.name: p.default for p in inspect.signature(factory(name)).parameters.values()}


def listed_models(name: str) -> list[str]:
    """The models a fake's model-list route returns, when it has one."""
    module = importlib.import_module(FAKES[name].partition(":")[0])
    models = getattr(module, "MODELS", ())
    return [m[0] if isinstance(m, tuple) else str(m) for m in models]


def describe() -> str:
    lines = ["fakes:"]
    for name in sorted(FAKES):
        fields = ", ".join(
            f"{k}={v!r}" if v is not None else k for k, v in credential_fields(name).items()
        )
        models = listed_models(name)
        lines.append(f"  {name}")
        lines.append(f"    credentials: {fields}")
        if models:
            lines.append(f"    lists models: {', '.join(models)}")
    lines += [
        "",
        'models: every fake answers any model name with "echo: <the last user message>"',
        "(streamed a word at a time; embeddings are deterministic vectors). These names act",
        f"instead: {', '.join(SPECIAL_MODELS[:3])} answer with that status in the provider's",
        "error shape; slow waits 3 seconds before answering.",
    ]
    return "\n".join(lines)


def parse_credentials(
    name: str, items: list[str], parser: argparse.ArgumentParser
) -> dict[str, str]:
    accepted = credential_fields(name)
    kwargs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in accepted:
            parser.error(
                f"--credential {key!r}: the {name} fake takes {', '.join(accepted)} (FIELD=VALUE)"
            )
        kwargs[key] = value
    return kwargs


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m keyhouse.testing.fakes",
        description="Serve a local fake of a provider's HTTP API on 127.0.0.1. It checks "
        "credentials the way the provider does.",
        epilog=describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(FAKES), help="which fake")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a credential the fake accepts, e.g. api_key=sk-test (fields per fake below)",
    )
    args = parser.parse_args()
    kwargs = parse_credentials(args.name, args.credential, parser)
    app = factory(args.name)(**kwargs)
    print(f"fake {args.name} on http://{args.host}:{args.port} accepting {sorted(kwargs)}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
