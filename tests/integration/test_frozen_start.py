"""A served worker takes what it built at start out of the cyclic collector's passes
(``duties.settle_the_collector``): a full pass over it took ~60 ms, every request waiting. And
its collector walks the young objects less often than CPython's default (700)."""

from __future__ import annotations

import os
import subprocess
import sys

from backends import settings_env
from huying.settings import Settings

CHILD = """
import gc
from huying.api.worker import create_worker_app
create_worker_app()
print(gc.get_freeze_count(), len(gc.get_objects()), gc.get_threshold()[0])
"""


def test_a_worker_freezes_what_it_built_at_start_and_walks_young_objects_less_often(
    settings: Settings,
) -> None:
    from huying.migrate import upgrade

    upgrade(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")} | settings_env(settings)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    frozen, still_walked, young = (int(n) for n in done.stdout.split())
    assert frozen > 50_000, "the services, org, catalog and app were frozen"
    assert still_walked < frozen / 10, "a full pass walks little of what start built"
    assert young == 10_000, "the youngest generation is walked every 10,000 new objects, not 700"
