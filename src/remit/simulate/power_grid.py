"""Running a power design grid on Dask distributed: a remote scheduler or a local cluster.

:func:`dask_map` gives :func:`remit.stats.power_grid.run_power_grid` a ``map_points`` that
sends each grid point to a Dask worker and yields the rows as they finish. Each point carries
its own seed, so the table equals the one of a serial run whatever the number of workers or
the order in which they finish. Dask is imported only here, and only when a grid uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from remit.errors import InputError
from remit.stats.power_grid import GridPoint, MapPoints


@contextmanager
def dask_map(
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    timeout: float = 120.0,
    processes: bool = True,
) -> Iterator[MapPoints]:
    """A ``map_points`` over a Dask cluster, open for the duration of the ``with`` block.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); ``None`` starts a local cluster.
    workers
        Workers of the local cluster (one thread each); ignored with ``scheduler``.
    timeout
        Seconds to wait for the scheduler and workers to be ready.
    processes
        Local cluster with worker processes (default) or threads in this process.

    Examples
    --------
    >>> from remit.stats.power_grid import design_grid, run_power_grid
    >>> pts = design_grid([40], [0.8], [0.3], [0.0], n_sim=3, seed=2)
    >>> with dask_map(workers=1, processes=False) as mapper:  # doctest: +SKIP
    ...     table = run_power_grid(pts, seed=2, map_points=mapper).table
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise InputError(
            "Dask distributed is not installed",
            expected="the package 'dask[distributed]'",
            hint="pip install 'dask[distributed]'",
        ) from None
    cluster = None
    n = 0
    if scheduler is None:
        n = workers or 1
        if n < 1:
            raise InputError(f"--workers {workers}", expected="at least 1 worker")
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
        )
        client = Client(cluster, timeout=timeout)  # type: ignore[no-untyped-call]
    else:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise InputError(
                f"--scheduler {scheduler!r}",
                expected="a Dask scheduler address such as tcp://10.0.0.5:8786",
            )
        try:
            client = Client(scheduler, timeout=timeout)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                expected="the address of a running dask scheduler",
                hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`",
            ) from None
    try:
        if cluster is not None:
            client.wait_for_workers(n, timeout=timeout)

        def mapper(
            fn: Callable[[GridPoint], dict[str, Any]], points: Sequence[GridPoint]
        ) -> Iterator[dict[str, Any]]:
            if not points:
                return
            futures = client.map(fn, list(points), pure=False)
            for fut in as_completed(futures):  # type: ignore[no-untyped-call]
                yield fut.result()

        yield mapper
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
