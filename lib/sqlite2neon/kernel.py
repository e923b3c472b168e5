"""The run's one Jupyter kernel, shared by its notebooks, and the papermill engine that runs each
notebook in it. A kernel's start and the imports of the steps (pandas, matplotlib, DuckDB, ...) are
most of a small run's time, so they are paid once per run; each notebook still gets its parameters
injected by papermill, its own executed .ipynb, and an empty namespace, as a new kernel would give it.

    kernel = RunKernel.start(root, "sqlite2neon")   # returns at once: it boots while papermill is imported
    papermill.execute_notebook(src, out, parameters=values, engine_name=engine(), kernel=kernel)
    kernel.request_stop()                           # it exits while the record is written
    kernel.stop()                                   # waits for that

What does carry over from one notebook to the next is what a process keeps: imported modules and
their caches (pure functions of their arguments in sqlite2neon), environment variables, the working
directory. No notebook sets any of them; each notebook's state is its own namespace, which is cleared.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import importlib
import queue
import sys
import threading
import time
import typing
from pathlib import Path

from jupyter_core.utils import run_sync

if typing.TYPE_CHECKING:
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

ENGINE = "sqlite2neon"  # the papermill engine's name (engine_name=)
# The kernel's own log (its TCP warning, "KeyboardInterrupt caught in kernel") is not the run's story:
# what a step says is in its notebook, and the reason of a failure is the first line on stderr.
# Its history stays in memory, as nbclient's own kernels keep it: nothing is written to ~/.ipython.
# At its start it begins importing, in a thread of its own, what every run's steps import (`prewarm`).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL", "--HistoryManager.hist_file=:memory:",
                    "--IPKernelApp.exec_lines=__import__('sqlite2neon.kernel').kernel.prewarm()"]
# What `prewarm` imports, in the order the steps first need it: libraries every run's steps import, and
# only those (a library a run may not need would only add to the kernel's memory).
PREWARMED = ("psycopg", "duckdb", "pyarrow", "pyarrow.compute", "pyarrow.csv", "pandas",
             "matplotlib.figure", "matplotlib.ticker", "matplotlib.backends.backend_agg")
# Run silently before each notebook: an empty namespace and execution counts from 1, as in a new
# kernel (IPython's InteractiveShell.reset), and the previous step's memory freed before the next runs.
FRESH_NAMESPACE = "get_ipython().reset(new_session=True); __import__('sqlite2neon.kernel').kernel.release_memory()"
# Optional modules that papermill's import pulls in and a run never uses, kept out of its process
# while papermill is imported (then importable again): pyarrow.fs, for papermill's HDFS handler (37 MB
# resident); rfc3987_syntax, whose IRI grammars jsonschema builds at import (a second of CPU) for a
# format that nbformat's schema does not use.
UNUSED_BY_PAPERMILL = ("pyarrow.fs", "rfc3987_syntax")
SAVE_EVERY = 1.0  # seconds between saves of a notebook while it runs (`_throttled`)


class RunKernel:
    """One kernel for a run's notebooks, and one client of it that they all use. `start` launches it
    and returns at once (it boots meanwhile); a kernel that could not be launched keeps the reason in
    `error`, raised by `manager()`, so that the first notebook fails with it as it would have with a
    kernel of its own."""

    def __init__(self, km: AsyncKernelManager | None, error: Exception | None = None) -> None:
        self._km = km
        self._kc: AsyncKernelClient | None = None
        self._ready = False  # the kernel answered its client
        self._asked = False  # its exit was requested
        self.error = error
        if km is not None:  # connected now, so that its IOPub subscription is live when the kernel first speaks
            self._kc = km.client()
            self._kc.start_channels()

    @classmethod
    def start(cls, cwd: Path, kernel_name: str) -> "RunKernel":
        """Launch the kernelspec `kernel_name` in `cwd` (the notebooks' working directory)."""
        from jupyter_client.manager import AsyncKernelManager  # here: the kernel imports this module (`prewarm`)

        km = AsyncKernelManager(kernel_name=kernel_name)
        try:
            run_sync(km.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=str(cwd))
        except Exception as exc:  # no such kernel, or it could not be launched
            return cls(None, exc)
        return cls(km)

    def manager(self) -> AsyncKernelManager:
        """The kernel's manager; raises the launch's error if it failed."""
        if self._km is None:
            raise self.error or RuntimeError("the kernel was stopped")
        return self._km

    def client(self, timeout: float) -> AsyncKernelClient:
        """The client the notebooks' executions share, connected since the launch; the first call waits
        for the kernel to answer (at most `timeout` seconds, RuntimeError after). A client of its own per
        notebook cost each notebook 0.2 s: jupyter_client's wait_for_ready gives a new IOPub subscription
        that long to show it is connected, and a fresh one never is in time."""
        self.manager()
        if not self._ready:
            run_sync(self._answered)(timeout)
            self._kc.allow_stdin = False  # as nbclient sets its own clients: papermill's notebooks are never asked
            self._ready = True
        return self._kc

    async def _answered(self, timeout: float) -> None:
        """Wait for the kernel's kernel_info reply with IOPub connected (a message heard on it), as
        jupyter_client's wait_for_ready does, without its last step, 0.2 s of waiting for IOPub to fall
        silent: nbclient passes over messages that answer no request of its own."""
        kc, deadline = self._kc, time.monotonic() + timeout
        while True:
            kc.kernel_info()
            try:
                reply = await kc.shell_channel.get_msg(timeout=1)
            except queue.Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await kc.iopub_channel.get_msg(timeout=0.2)
                    return
                except queue.Empty:  # IOPub not yet connected: ask again
                    pass
            if not await kc.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    def request_stop(self) -> None:
        """Ask the kernel to exit (a shutdown request), without waiting: it exits while the runner
        writes the record. A kernel that died is left to `stop`."""
        if self._km is not None and not self._asked:
            self._asked = True
            if run_sync(self._km.is_alive)():
                run_sync(self._km.request_shutdown)()

    def stop(self) -> None:
        """Wait for the kernel to exit, asking it first if `request_stop` did not; one still running
        after jupyter_client's `shutdown_wait_time` (5 s) is killed. Then its connection files go."""
        km, self._km = self._km, None
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if km is None:
            return
        try:
            if run_sync(km.is_alive)():
                if not self._asked:
                    run_sync(km.request_shutdown)()
                run_sync(km.finish_shutdown)()
        finally:
            run_sync(km.cleanup_resources)()


_prewarming: threading.Thread | None = None


def prewarm() -> None:
    """In the kernel, as it starts (KERNEL_ARGUMENTS): import PREWARMED in a thread while the kernel
    waits for its first notebook (the runner imports papermill and reads that notebook meanwhile), so
    that the first steps find them imported. `release_memory`, run before each notebook, waits for it:
    no notebook's code runs while it imports."""
    global _prewarming
    _prewarming = threading.Thread(target=_import_prewarmed, name="prewarm imports", daemon=True)
    _prewarming.start()


def _import_prewarmed() -> None:
    for name in PREWARMED:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the step that imports it says what is wrong
            return


def release_memory() -> None:
    """In the kernel, between notebooks: collect the previous notebook's objects, then hand the heap
    pages they freed back to the system (glibc's malloc_trim(3); elsewhere nothing more), so that
    what one step used does not stay resident through the next. What survives (the imported modules,
    their caches) is then frozen (gc.freeze): the collector no longer walks it, so this collection, the
    next notebook's reset and the collections inside its steps look only at what came after. A cycle
    among the frozen objects that later becomes garbage stays until the kernel exits."""
    if _prewarming is not None:
        _prewarming.join()
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    gc.freeze()


@contextlib.contextmanager
def _without(modules: tuple[str, ...]):
    """Make `import` of each of `modules` not yet imported fail (ImportError) inside the block: a
    module's optional dependencies are then left out, as when they are not installed."""
    absent = [name for name in modules if name not in sys.modules]
    for name in absent:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in absent:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _throttled(save, every: float = SAVE_EVERY):
    """`save` (papermill's NotebookExecutionManager.save, called as each cell starts and ends) run at
    most once per `every` seconds: writing the whole notebook twice per cell was a tenth of a small
    run's time. A run that is killed leaves its executed notebook at most `every` seconds old."""
    last = [float("-inf")]

    def maybe_save(**kwargs):
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            save(**kwargs)

    return maybe_save


@functools.cache
def engine() -> str:
    """Register the papermill engine that runs a notebook in a RunKernel (`kernel=`) and return its
    name. papermill is imported here, not with this module, so that a kernel can be
    started before papermill's imports are paid."""
    with _without(UNUSED_BY_PAPERMILL):
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.engines import NBClientEngine, papermill_engines
        from papermill.log import logger

    class FreshNamespaceClient(PapermillNotebookClient):
        """papermill's notebook client, clearing the shared kernel's namespace before the first cell."""

        def papermill_execute_cells(self):
            reply = self.wait_for_reply(self.kc.execute(FRESH_NAMESPACE, silent=True, store_history=False))
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(f"the kernel could not clear its namespace: {content.get('ename', 'no reply')} "
                                   f"{content.get('evalue', '')}".strip())
            super().papermill_execute_cells()

    class SharedKernelEngine(NBClientEngine):
        """papermill's nbclient engine, run in a RunKernel (`kernel=`) through its one client: the kernel
        is neither started nor shut down per notebook, nor its client made or closed."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, kernel=None, **kwargs):
            if kernel is None:
                raise ValueError(f"the {ENGINE} engine runs notebooks in a RunKernel it is given (kernel=)")
            client = FreshNamespaceClient(
                nb_man, km=kernel.manager(), kernel_name=kernel_name, timeout=execution_timeout,
                startup_timeout=start_timeout, log=logger, log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client.kc = kernel.client(start_timeout)  # nbclient then makes none of its own
            every_save = nb_man.save
            nb_man.save = _throttled(every_save)
            try:
                return client.execute()
            finally:
                nb_man.save = every_save  # papermill's last save, with the notebook's end, is never skipped

    papermill_engines.register(ENGINE, SharedKernelEngine)
    return ENGINE
