"""Starting a ring on one machine: `run_on_ranks` runs a function in `p` new
processes that form one gloo group on 127.0.0.1, with every wait bounded."""

from __future__ import annotations

import datetime
import os
import queue
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from selfattn._checks import check_positive_int

# ---- running it: local processes, or torchrun ----------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _child(
    rank: int,
    world_size: int,
    port: int,
    timeout: float,
    threads: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
) -> None:
    """One spawned rank: join the group, run `fn`, report what came out."""
    try:
        torch.set_num_threads(threads)
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout),
        )
        try:
            value = fn(*args)
        finally:
            dist.destroy_process_group()
        results.put((rank, True, value))
    except BaseException:  # every failure reaches the parent, readable
        results.put((rank, False, traceback.format_exc()))


def run_on_ranks(
    fn: Callable[..., Any],
    world_size: int,
    *args: Any,
    timeout: float = 60.0,
    threads: int | None = None,
) -> list[Any]:
    """Run `fn(*args)` in `world_size` new processes that form one gloo group on
    127.0.0.1 (each picks its rank with `torch.distributed.get_rank()`); returns
    the values, by rank. `fn` must be importable (a module-level function).

    Every wait is bounded: after `timeout` seconds, or as soon as one rank fails,
    the others are killed and a `RuntimeError` carries the failing rank's traceback.
    """
    import torch.multiprocessing as mp

    check_positive_int("world_size", world_size)
    # A fork server imports torch once and forks every rank from that clean,
    # single-threaded process: seconds faster per group than "spawn", and safe
    # (the parent's OpenMP threads are never forked). Spawn where there is none.
    ctx: Any
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torch.distributed", "selfattn.ring"])
    else:
        ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // world_size)
    procs = [
        ctx.Process(
            target=_child,
            args=(r, world_size, port, timeout, threads, fn, args, results),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for proc in procs:
        proc.start()
    values: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(values) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"ranks {sorted(set(range(world_size)) - set(values))} did not "
                    f"finish within {timeout:.0f} s"
                )
            try:
                rank, ok, value = results.get(timeout=min(left, 1.0))
            except queue.Empty:
                dead = [
                    r
                    for r, proc in enumerate(procs)
                    if r not in values and proc.exitcode not in (None, 0)
                ]
                if dead:
                    raise RuntimeError(
                        f"rank {dead[0]} died with exit code {procs[dead[0]].exitcode} "
                        "before reporting"
                    ) from None
                continue
            if not ok:
                raise RuntimeError(f"rank {rank} of {world_size} failed:\n{value}")
            values[rank] = value
    finally:
        for proc in procs:
            proc.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5.0)
        results.close()
    return [values[r] for r in range(world_size)]
