"""随手拍 memory: the peak RSS of a real `huying serve` while photos are uploaded at once.

    python -m bench.photo_memory                 # 4 × the 7000×7000 PNG of issue 10, and others
    python -m bench.photo_memory --at-once 8

Starts `huying serve` on a fresh data directory, notes its peak RSS (VmHWM) once it is ready,
then for each case uploads the same photo ``--at-once`` times concurrently (each from its own
thread and connection) and notes the peak RSS again, in a fresh server per case. Prints a table
and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import io
import json
import threading
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.serving import served


def cases() -> dict[str, bytes]:
    """The issue's PNG bomb, a big camera JPEG, and the largest PNG a default budget admits."""

    def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    detail = Image.effect_mandelbrot((4096, 4096), (-2.0, -1.2, 0.8, 1.2), 200).convert("RGBA")
    return {
        "png 7000x7000 (0.2 MB)": encoded(Image.new("RGBA", (7000, 7000), "white"), "PNG", optimize=True),
        "jpeg 8000x6000": encoded(Image.linear_gradient("L").resize((8000, 6000)).convert("RGB"), "JPEG"),
        "png 4096x4096 rgba": encoded(detail, "PNG"),
    }


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def run_case(photo: bytes, at_once: int) -> dict[str, Any]:
    with served() as server:
        ready = peak_rss_kib(server.process.pid)
        statuses = _upload_together(server.base_url, server.token, photo, at_once)
        peak = peak_rss_kib(server.process.pid)
    return {"ready_mib": ready / 1024, "peak_mib": peak / 1024, "statuses": statuses}


def _upload_together(base: str, token: str, photo: bytes, n: int) -> list[int]:
    statuses: list[int] = []
    start = threading.Barrier(n)

    def one() -> None:
        with httpx.Client(base_url=base, timeout=300) as http:
            start.wait()
            answer = http.post(
                "/api/v1/attachments",
                files={"file": ("photo", photo, "application/octet-stream")},
                headers={"Authorization": f"Bearer {token}"},
            )
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/photo-memory.json"))
    args = parser.parse_args()
    results = {}
    print(f"{'case':28} {'size MB':>8} {'ready MiB':>10} {'peak MiB':>9}  statuses")
    for name, photo in cases().items():
        got = run_case(photo, args.at_once)
        results[name] = {"bytes": len(photo), **got}
        size = len(photo) / 1e6
        print(f"{name:28} {size:8.2f} {got['ready_mib']:10.0f} {got['peak_mib']:9.0f}  {got['statuses']}")
    args.out.write_text(json.dumps({"at_once": args.at_once, "cases": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
