"""Command line of the mock server: ``python -m llm_load.mock`` / ``llm-load mock``."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys

from llm_load.core.tools.cases import ToolCase, load_tool_cases
from llm_load.mock.config import (
    DEFAULT_REPLY_TOKENS,
    DEFAULT_TOOL_ERROR_KINDS,
    MAX_REPLY_TOKENS,
    TOOL_ERROR_KINDS,
    TOOL_STREAM_STYLES,
    MockConfig,
    MockModel,
    default_models,
)
from llm_load.mock.process import API_KEY_ENV, READY_PREFIX
from llm_load.mock.server import MockServer, run


def _model_spec(spec: str) -> MockModel:
    try:
        return MockModel.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the mock server."""
    p = argparse.ArgumentParser(
        prog="llm-load mock",
        description="OpenAI-compatible mock LLM server with deterministic latencies and a "
        "ground-truth timing log (GET /stats).",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port, 0 = any free (default: 8000)")
    p.add_argument("--ttft-ms", type=_non_negative, default=50.0, help="time to first token")
    p.add_argument("--itl-ms", type=_non_negative, default=5.0, help="inter-token latency")
    p.add_argument(
        "--tokens", type=int, default=None, metavar="N",
        help="the model stops by itself after N tokens (finish_reason stop; a smaller "
        "max_tokens cuts it). Default: replies run to the request's max_tokens or "
        f"max_completion_tokens, at most {MAX_REPLY_TOKENS} (finish_reason length), "
        f"or {DEFAULT_REPLY_TOKENS} tokens when it sets neither",
    )  # fmt: skip
    p.add_argument(
        "--jitter", type=_non_negative, default=0.0,
        help="relative jitter j: TTFT and each ITL are scaled by uniform(1-j, 1+j)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of the jitter and faults (default: 0)"
    )
    p.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV) or None,
        help=f"require 'Authorization: Bearer KEY' on /v1/* (env {API_KEY_ENV})",
    )  # fmt: skip
    p.add_argument(
        "--model", dest="models", action="append", type=_model_spec, default=[],
        metavar="NAME=TTFT_MS/ITL_MS",
        help="serve a model with its own latencies (repeatable); default: mock-llm with "
        "--ttft-ms/--itl-ms and mock-llm-slow with both doubled",
    )  # fmt: skip
    p.add_argument(
        "--parallel", type=int, default=0, metavar="N",
        help="at most N replies generate at once, the rest queue (TTFT grows), like "
        "llama.cpp --parallel or vLLM --max-num-seqs; 0 = unlimited (default)",
    )  # fmt: skip
    p.add_argument("--no-uvloop", action="store_true", help="use the stdlib asyncio event loop")
    g = p.add_argument_group("misbehaviour (to rehearse failures, e.g. with llm-load doctor)")
    g.add_argument(
        "--root-path", default="", metavar="/PREFIX",
        help="serve the OpenAI routes under PREFIX (/PREFIX/v1/models ...), so /v1/... is a 404",
    )  # fmt: skip
    g.add_argument(
        "--block-prompt", metavar="WORD",
        help="answer a chat whose messages contain WORD (any case) with a 403 content filter",
    )  # fmt: skip
    g.add_argument("--no-usage", action="store_true", help="never report token usage")
    g.add_argument(
        "--prompt-tokens-details", action="store_true",
        help="keep a prefix cache (blocks of 16 tokens) and report its hits in "
        "usage.prompt_tokens_details.cached_tokens, as vLLM does with that flag",
    )  # fmt: skip
    g.add_argument(
        "--reasoning-tokens", type=int, default=0, metavar="N",
        help="N reasoning tokens before each chat answer (a reasoning model): streamed as "
        "reasoning_content deltas, non-streamed in message.reasoning_content; usage reports "
        "them in completion_tokens_details.reasoning_tokens",
    )  # fmt: skip
    g.add_argument(
        "--backend", metavar="NAME",
        help="put a 'backend' object (machine_name NAME) in chat responses and chunks, and an "
        "X-Backend header, as hosted LLM APIs do",
    )  # fmt: skip
    g.add_argument(
        "--no-tools", action="store_true",
        help="answer requests with 'tools' with vLLM's 400 (no --enable-auto-tool-choice)",
    )  # fmt: skip
    _fault_arguments(g)
    _tool_arguments(p)
    return p


def _fault_arguments(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--error-rate", type=float, default=0.0, metavar="R",
        help="answer a share R (0..1) of valid chat requests at once with --error-status",
    )  # fmt: skip
    g.add_argument(
        "--error-status", type=int, default=503, metavar="CODE",
        help="HTTP status of --error-rate answers, OpenAI-style error body; 429 adds "
        "'Retry-After: 1' (default: 503)",
    )  # fmt: skip
    g.add_argument(
        "--drop-rate", type=float, default=0.0, metavar="R",
        help="close the connection of a share R of replies after a random number of tokens",
    )  # fmt: skip
    g.add_argument(
        "--stream-error-rate", type=float, default=0.0, metavar="R",
        help="end a share R of streamed replies after a random number of tokens with the "
        "API's in-stream error event (chat: an error chunk; Messages: overloaded_error)",
    )  # fmt: skip
    g.add_argument(
        "--stall-rate", type=float, default=0.0, metavar="R",
        help="stop a share R of replies for --stall-s seconds after a random number of "
        "tokens, then go on (the client's --request-timeout decides)",
    )  # fmt: skip
    g.add_argument(
        "--stall-s", type=_non_negative, default=10.0, metavar="S",
        help="length of a stall in seconds (default: 10)",
    )  # fmt: skip


def _kinds(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.split(",") if k.strip())


def _tool_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tool calls (answers known tool cases, some deliberately wrong)")
    g.add_argument(
        "--tool-cases", action="append", default=[], metavar="PATH",
        help="JSONL tool dataset(s) (repeatable): a request whose last user message is a case's "
        "gets that case's expected calls (or text for an irrelevance case)",
    )  # fmt: skip
    g.add_argument(
        "--tool-error-rate", type=float, default=0.0, metavar="R",
        help="share (0..1) of tool-case answers made wrong on purpose (default: 0)",
    )  # fmt: skip
    g.add_argument(
        "--tool-error-kinds", type=_kinds, default=DEFAULT_TOOL_ERROR_KINDS, metavar="K1,K2",
        help=f"kinds of wrong answers, cycled (any of {', '.join(TOOL_ERROR_KINDS)}; default: "
        f"{','.join(DEFAULT_TOOL_ERROR_KINDS)})",
    )  # fmt: skip
    g.add_argument(
        "--tool-stream", choices=TOOL_STREAM_STYLES, default="vllm",
        help="how streamed tool calls are split: vllm (id+name, then arguments fragments) or "
        "llamacpp (first fragment with the name) (default: vllm)",
    )  # fmt: skip


def _tool_cases(paths: list[str]) -> tuple[ToolCase, ...]:
    """Every case of every file (a `ScenarioError`, i.e. a ValueError, names file and line)."""
    return tuple(case for path in paths for case in load_tool_cases(path))


def config_from_args(args: argparse.Namespace) -> MockConfig:
    """Turn parsed arguments into a :class:`MockConfig` (raises ValueError when invalid)."""
    models = tuple(args.models) or default_models(args.ttft_ms, args.itl_ms)
    return MockConfig(
        host=args.host,
        port=args.port,
        models=models,
        tokens=args.tokens,
        jitter=args.jitter,
        seed=args.seed,
        api_key=args.api_key,
        use_uvloop=not args.no_uvloop,
        root_path=args.root_path.rstrip("/"),
        block_prompt=args.block_prompt,
        backend=args.backend,
        usage=not args.no_usage,
        prompt_tokens_details=args.prompt_tokens_details,
        reasoning_tokens=max(0, args.reasoning_tokens),
        tools=not args.no_tools,
        tool_cases=_tool_cases(args.tool_cases),
        tool_error_rate=args.tool_error_rate,
        tool_error_kinds=args.tool_error_kinds,
        tool_stream=args.tool_stream,
        parallel=args.parallel,
        error_rate=args.error_rate,
        error_status=args.error_status,
        drop_rate=args.drop_rate,
        stall_rate=args.stall_rate,
        stream_error_rate=args.stream_error_rate,
        stall_s=args.stall_s,
    )


def _raise_fd_limit() -> None:
    """Lift the soft open-files limit to the hard limit (thousands of connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _announce(server: MockServer) -> None:
    print(f"{READY_PREFIX}{server.base_url}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the mock until SIGINT/SIGTERM; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    _raise_fd_limit()
    try:
        run(config, on_ready=_announce)
    except OSError as exc:
        print(f"llm-load mock: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
