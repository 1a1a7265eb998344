"""The HTTP protocol's own cost, in-process: CPU per request of uvicorn's h11 protocol, its
httptools one, and huying's guarded protocol (``huying.api.connection``, what `huying serve`
uses), each reading P6's request head and writing a 2.6 kB answer from a trivial ASGI app,
through a transport that keeps nothing. No socket and no app work: what is left is the parser
and the answer's writing, which a real server pays on top of both.

    python -m bench.protocol [--requests 2000] [--repeat 7]

Each protocol runs ``repeat`` times ``requests`` requests on one connection, in turn; the
fastest run counts (noise only ever slows a run down).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from huying.api.connection import Deadlines, GuardedProtocol

ENTRY = b'{"position":1,"version":2,"type":"ProgressNoted","note":"x"}'
BODY = b'{"data":[' + b",".join([ENTRY] * 40) + b"]}"
REQUEST = (
    b"GET /api/v1/calls/2f1c0b8e-6a1d-4b0e-9a3c-6c0f7e1b2a3d/history HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\nUser-Agent: python-httpx/0.28.1\r\n"
    b"Authorization: Bearer hy_0123456789abcdef0123456789abcdef0123456789\r\n\r\n"
)


async def app(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


class Sink(asyncio.Transport):
    """Keeps nothing; tells the waiting request when its answer's body has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: asyncio.Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.answered is not None and bytes(data).endswith(b"]}"):
            self.answered.set_result(None)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


Factory = Callable[..., asyncio.Protocol]


async def _runs(factory: Factory, requests: int, repeat: int) -> float:
    loop = asyncio.get_running_loop()
    config = Config(app=app, log_level="warning", access_log=False, server_header=False, lifespan="off")
    config.load()
    protocol: Any = factory(config, ServerState(), {}, loop)
    sink = Sink()
    protocol.connection_made(sink)
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(requests):
            sink.answered = loop.create_future()
            protocol.data_received(REQUEST)
            await sink.answered
        best = min(best, (time.process_time() - started) / requests)
    return best


PROTOCOLS: dict[str, Factory] = {
    "uvicorn h11": H11Protocol,
    "uvicorn httptools": HttpToolsProtocol,
    "huying (httptools, guarded)": functools.partial(GuardedProtocol, deadlines=Deadlines(5, 5, 5, 1000)),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.protocol", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for name, factory in PROTOCOLS.items():
        seconds = asyncio.run(_runs(factory, args.requests, args.repeat))
        print(f"{name:28s} {seconds * 1e6:6.1f} µs CPU per request")


if __name__ == "__main__":
    main()
