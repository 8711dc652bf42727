"""Run a coroutine to completion in a thread of its own.

The browser tests drive Playwright's sync API, which can leave an event loop running on the
test thread; ``asyncio.run`` refuses to start inside it. A fresh thread has no loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_in_own_thread"]

T = TypeVar("T")


def run_in_own_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
