"""A served worker takes what it built at start out of the cyclic collector's passes
(``duties.freeze_what_start_built``): a full pass over it took ~60 ms, every request waiting."""

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
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_a_worker_freezes_what_it_built_at_start(settings: Settings) -> None:
    from huying.migrate import upgrade

    upgrade(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")} | settings_env(settings)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    frozen, still_walked = (int(n) for n in done.stdout.split())
    assert frozen > 50_000, "the services, org, catalog and app were frozen"
    assert still_walked < frozen / 10, "a full pass walks little of what start built"
