"""A local stand-in for the Functions host that runs the functions registered on a `FunctionApp`.

It reads each function's trigger metadata and reproduces the host semantics we rely on:
- HTTP triggers served at `/<routePrefix>/<route>` with their methods;
- queue triggers polled from Storage (Azurite) with host.json's `batchSize`, `newBatchThreshold`,
  `maxPollingInterval` (between receives it waits as the host's queue listener does: `poll_delay`),
  `visibilityTimeout` after a failure, `maxDequeueCount`, then the original message copied to
  `<queue>-poison`; base64 message encoding;
- timer triggers fired on their NCRONTAB schedule (seconds first, `%Setting%` resolved), once at
  start when `run_on_startup`, never overlapping (the host's singleton behaviour).
Keys for `FUNCTION`/`ADMIN` auth levels are not enforced: only the real host holds keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import uvicorn
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.decorators.core import BindingDirection
from azure.functions.queue import QueueMessage as HostQueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient
from croniter import croniter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.poll_delay import PollDelay
from devstack.ports import free_port, wait_listening
from shared.store.storage_clients import transport_options

log = logging.getLogger("devstack.host")
ROOT = Path(__file__).resolve().parent.parent
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def parse_timespan(value: str) -> float:
    """host.json TimeSpan ('00:00:30', '1.00:00:00') in seconds."""
    match = _TIMESPAN.match(value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()


@dataclass(frozen=True)
class QueueSettings:
    """`extensions.queues` of host.json, with the host's defaults for what is absent."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, host: dict[str, Any]) -> QueueSettings:
        queues = host.get("extensions", {}).get("queues", {})
        batch = int(queues.get("batchSize", 16))
        return cls(
            batch_size=batch,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch // 2)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(queues.get("visibilityTimeout", "00:00:00")),
            max_polling_interval=parse_timespan(queues.get("maxPollingInterval", "00:01:00")),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        )


def resolve_setting_expression(value: str, environ: dict[str, str]) -> str:
    """`%NAME%` app-setting expressions, as the host resolves them in trigger metadata."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"app setting {name} (used as %{name}%) is not set")
        return environ[name]

    return re.sub(r"%([A-Za-z0-9_]+)%", repl, value)


class _Capture(func.Out[Any]):
    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


def _call(function: func.Function, trigger_value: Any) -> tuple[Any, dict[str, Any]]:
    """Invoke a registered function like the worker does: keyword arguments named after bindings."""
    kwargs: dict[str, Any] = {_trigger(function).name: trigger_value}
    outs: dict[str, _Capture] = {}
    for binding in function.get_bindings():
        if binding.direction == BindingDirection.OUT.value and binding.name != "$return":
            outs[binding.name] = _Capture()
    user = function.get_user_function()
    if inspect.iscoroutinefunction(user):
        result = asyncio.run(user(**kwargs, **outs))
    else:
        result = user(**kwargs, **outs)
    return result, {name: capture.get() for name, capture in outs.items()}


@dataclass
class HostStats:
    invocations: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    poisoned: dict[str, int] = field(default_factory=dict)
    # CPU seconds of the host's own work (queue polling, receive, delete, lease renewals), not the
    # functions': in Azure that is the Functions host's process, not the app's Python worker.
    host_cpu: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, bucket: dict[str, int], name: str) -> None:
        with self.lock:
            bucket[name] = bucket.get(name, 0) + 1

    def add_host_cpu(self, seconds: float) -> None:
        with self.lock:
            self.host_cpu += seconds


class _HostClock:
    """The calling thread's CPU since the last tick, added to the host's own CPU."""

    def __init__(self, stats: HostStats) -> None:
        self.stats = stats
        self.mark = time.thread_time()

    def tick(self, less: float = 0.0) -> None:
        """Add the CPU since the last tick, less `less` seconds of it that were a function's."""
        now = time.thread_time()
        self.stats.add_host_cpu(max(now - self.mark - less, 0.0))
        self.mark = now


class LocalFunctionsHost:
    """Runs `app`'s functions until `stop()`. Environment = app settings (like the real host)."""

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        host_json: Path | dict[str, Any] = ROOT / "host.json",
        http_port: int | None = None,
        environ: dict[str, str] | None = None,
        only: Iterable[str] | None = None,
        processing_lease_seconds: float = 60.0,
    ) -> None:
        self.app = app
        self.host_config = (
            json.loads(Path(host_json).read_text()) if isinstance(host_json, Path) else host_json
        )
        self.queue_settings = QueueSettings.from_host_json(self.host_config)
        self.route_prefix = self.host_config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        self.http_port = http_port or free_port()
        self.environ = dict(os.environ if environ is None else environ)
        self.functions = [f for f in _indexed(app) if only is None or _name(f) in only]
        self.processing_lease_seconds = processing_lease_seconds
        self.stats = HostStats()
        self._stop = threading.Event()
        self._leases = _LeaseKeeper(processing_lease_seconds, self._stop, self.stats)
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None
        self._clients: dict[tuple[str, str], QueueClient] = {}
        self._clients_lock = threading.Lock()
        self._http_thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def host_cpu_seconds(self) -> float:
        """CPU the host's own work used so far, not the functions': the queue loops, message deletes,
        lease renewals and the HTTP server's thread (which parses requests and writes responses; the
        functions run on other threads). In Azure this is the Functions host's process."""
        with self.stats.lock:
            own = self.stats.host_cpu
        return own + _thread_cpu(self._http_thread)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> LocalFunctionsHost:
        http_functions = [f for f in self.functions if _trigger(f).type == "httpTrigger"]
        if http_functions:
            self._start_http(http_functions)
        for function in self.functions:
            kind = _trigger(function).type
            if kind == "queueTrigger":
                _create_queues(*self._queues(function))  # before start() returns, as the host does
                self._spawn(self._queue_loop, function)
            elif kind == "timerTrigger":
                self._spawn(self._timer_loop, function)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=15)

    def __enter__(self) -> LocalFunctionsHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[[func.Function], None], function: func.Function) -> None:
        thread = threading.Thread(
            target=target, args=(function,), name=f"host-{_name(function)}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    # ---------------------------------------------------------------- HTTP
    def _start_http(self, functions: list[func.Function]) -> None:
        routes = []
        for function in functions:
            trigger = _trigger(function)
            route = (trigger.route or _name(function)).strip("/")
            methods = [getattr(m, "value", str(m)) for m in (trigger.methods or ["GET", "POST"])]
            path = f"/{self.route_prefix}/{route}" if self.route_prefix else f"/{route}"
            routes.append(Route(path, self._http_endpoint(function), methods=methods))
        config = uvicorn.Config(
            Starlette(routes=routes), host="127.0.0.1", port=self.http_port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        thread = self._http_thread = threading.Thread(target=self._server.run, name="host-http", daemon=True)
        thread.start()
        self._threads.append(thread)
        wait_listening(self.http_port)

    def _http_endpoint(self, function: func.Function) -> Callable[[Request], Any]:
        name = _name(function)

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            req = func.HttpRequest(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                params=dict(request.query_params),
                route_params=dict(request.path_params),
                body=body,
            )
            self.stats.count(self.stats.invocations, name)
            try:
                result, outputs = await asyncio.to_thread(_call, function, req)
                await asyncio.to_thread(self._send_outputs, function, outputs)
            except Exception:
                log.exception("function %s failed", name)
                self.stats.count(self.stats.failures, name)
                return Response("function failed", status_code=500)
            if isinstance(result, func.HttpResponse):
                headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
                return Response(
                    result.get_body(), status_code=result.status_code, headers=headers,
                    media_type=result.mimetype,
                )  # fmt: skip
            return Response(status_code=204 if result is None else 200, content=str(result or ""))

        return endpoint

    # ---------------------------------------------------------------- queues
    def _queue_client(self, connection: str, queue_name: str) -> QueueClient:
        conn = self.environ.get(connection) or self.environ.get(f"{connection}__connectionString")
        if not conn:
            raise KeyError(f"queue trigger connection setting {connection} is not set")
        key = (conn, queue_name)
        with self._clients_lock:
            if key not in self._clients:  # built once, with the app's Storage transport
                options = transport_options()
                self._clients[key] = QueueClient.from_connection_string(conn, queue_name, **options)
            return self._clients[key]

    def _queues(self, function: func.Function) -> tuple[QueueClient, QueueClient]:
        """The trigger's queue and its poison queue."""
        trigger = _trigger(function)
        queue_name = resolve_setting_expression(trigger.queue_name, self.environ)
        connection = trigger.connection or "AzureWebJobsStorage"
        return (
            self._queue_client(connection, queue_name),
            self._queue_client(connection, f"{queue_name}-poison"),
        )

    def _queue_loop(self, function: func.Function) -> None:
        name = _name(function)
        queue, poison = self._queues(function)
        queue_name = queue.queue_name
        qs = self.queue_settings
        inflight = threading.Semaphore(qs.batch_size + qs.new_batch_threshold)
        pool = ThreadPoolExecutor(max_workers=qs.batch_size + qs.new_batch_threshold, thread_name_prefix=name)
        delay = PollDelay(qs.max_polling_interval)
        clock = _HostClock(self.stats)
        while not self._stop.is_set():
            clock.tick()
            try:
                messages = list(
                    queue.receive_messages(
                        messages_per_page=qs.batch_size,
                        max_messages=qs.batch_size,
                        visibility_timeout=int(self.processing_lease_seconds),
                    )
                )
            except ResourceNotFoundError:  # the queue was deleted (or storage lost its data)
                log.warning("queue %s is missing: creating it again", queue_name)
                _create_queues(queue, poison)
                messages = []
            except AzureError as exc:
                log.warning("queue %s: receive failed (%s); backing off", queue_name, exc)
                messages = []
            if not messages:
                self._stop.wait(delay.next_wait())
                continue
            delay.found_messages()
            for message in messages:
                inflight.acquire()
                pool.submit(self._process_one, function, queue, poison, message, inflight)
            # Fetch the next batch only once in-flight work drops to newBatchThreshold, as the host does.
            while not self._stop.is_set() and _available(inflight) < qs.batch_size:
                self._stop.wait(0.01)
        pool.shutdown(wait=True, cancel_futures=False)

    def _process_one(
        self, function: func.Function, queue: QueueClient, poison: QueueClient, message: Any,
        inflight: threading.Semaphore,
    ) -> None:  # fmt: skip
        name = _name(function)
        raw: str = message.content
        qs = self.queue_settings
        clock, in_function = _HostClock(self.stats), 0.0
        lease = self._leases.hold(queue, message)
        if message.dequeue_count > qs.max_dequeue_count:
            # Failed maxDequeueCount times but could not be moved to the poison queue then: move it
            # now without running it again (as the host does), so it is never re-delivered unbounded.
            receipt = self._leases.release(lease)
            try:
                self._to_poison(name, queue, poison, message, receipt, raw, "earlier move failed")
            finally:
                inflight.release()
                clock.tick()
            return
        try:
            self.stats.count(self.stats.invocations, name)
            body = _decode(raw, qs.message_encoding)
            trigger_value = HostQueueMessage(  # type: ignore[no-untyped-call]
                id=message.id,
                body=body,
                pop_receipt=message.pop_receipt,
                dequeue_count=message.dequeue_count,
                insertion_time=message.inserted_on,
                expiration_time=message.expires_on,
                time_next_visible=message.next_visible_on,
            )
            started = time.thread_time()
            try:
                _, outputs = _call(function, trigger_value)
            finally:
                in_function = time.thread_time() - started
            receipt = self._leases.release(lease)
            self._send_outputs(function, outputs)
            queue.delete_message(message.id, receipt)
        except Exception as exc:  # noqa: BLE001 - the host treats any exception as a failed invocation
            receipt = self._leases.release(lease)
            self.stats.count(self.stats.failures, name)
            self._fail(
                function, queue=queue, poison=poison, message=message, receipt=receipt, raw=raw, exc=exc
            )
        finally:
            inflight.release()
            clock.tick(less=in_function)

    def _fail(
        self,
        function: func.Function,
        *,
        queue: QueueClient,
        poison: QueueClient,
        message: Any,
        receipt: str,
        raw: str,
        exc: Exception,
    ) -> None:
        name = _name(function)
        qs = self.queue_settings
        try:
            if message.dequeue_count >= qs.max_dequeue_count:
                self._to_poison(name, queue, poison, message, receipt, raw, exc)
            else:
                log.warning(
                    "function %s failed on message %s (dequeue count %s), retry in %ss: %s",
                    name, message.id, message.dequeue_count, qs.visibility_timeout, exc,
                )  # fmt: skip
                queue.update_message(message.id, receipt, visibility_timeout=int(qs.visibility_timeout))
        except ResourceNotFoundError:
            log.warning("message %s vanished while failing it (lease lost)", message.id)

    def _to_poison(  # noqa: PLR0917 - the message and both queues
        self, name: str, queue: QueueClient, poison: QueueClient, message: Any, receipt: str, raw: str,
        exc: object,
    ) -> None:  # fmt: skip
        """Copy the message to the poison queue (creating it when missing), then delete it. When the
        copy fails the message stays hidden for a growing while (never re-run, see _process_one)."""
        log.error(
            "function %s failed on message %s (dequeue count %s) -> %s: %s",
            name, message.id, message.dequeue_count, poison.queue_name, exc,
        )  # fmt: skip
        try:
            try:
                poison.send_message(raw)
            except ResourceNotFoundError:
                log.warning("queue %s is missing: creating it again", poison.queue_name)
                _create_queues(poison)
                poison.send_message(raw)
        except AzureError as move_error:
            extra = max(message.dequeue_count - self.queue_settings.max_dequeue_count, 0)
            hide = int(min(self.queue_settings.visibility_timeout * 2 ** (extra + 1), 600))
            log.error("message %s could not be moved to %s (%s); next try in %ss",
                      message.id, poison.queue_name, move_error, hide)  # fmt: skip
            queue.update_message(message.id, receipt, visibility_timeout=hide)
            return
        queue.delete_message(message.id, receipt)
        self.stats.count(self.stats.poisoned, name)

    def _send_outputs(self, function: func.Function, outputs: dict[str, Any]) -> None:
        for binding in function.get_bindings():
            if binding.name not in outputs or outputs[binding.name] is None:
                continue
            if binding.type != "queue":
                raise ValueError(f"output binding type {binding.type} is not supported by the local host")
            details = binding.get_dict_repr()
            client = self._queue_client(
                details.get("connection") or "AzureWebJobsStorage", details["queueName"]
            )
            values = outputs[binding.name]
            for value in values if isinstance(values, list) else [values]:
                text = value if isinstance(value, str) else json.dumps(value)
                client.send_message(_encode(text, self.queue_settings.message_encoding))

    # ---------------------------------------------------------------- timers
    def _timer_loop(self, function: func.Function) -> None:
        trigger = _trigger(function)
        name = _name(function)
        try:
            schedule = resolve_setting_expression(trigger.schedule, self.environ)
        except KeyError as exc:  # the real host reports the function as in error and runs the rest
            log.error("timer %s cannot start: %s", name, exc.args[0])
            return
        if not croniter.is_valid(schedule, second_at_beginning=True):
            log.error("timer %s: invalid NCRONTAB schedule %r", name, schedule)
            return
        if trigger.run_on_startup:
            self._fire(function, past_due=False)
        cron = croniter(schedule, datetime.now(UTC), second_at_beginning=True)
        while not self._stop.is_set():
            due: datetime = cron.get_next(datetime)
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(wait):
                return
            late = (datetime.now(UTC) - due).total_seconds()
            self._fire(function, past_due=late > 1.0)
            if late > 1.0:  # skip the runs we missed instead of firing them back to back
                cron = croniter(schedule, datetime.now(UTC), second_at_beginning=True)

    def _fire(self, function: func.Function, *, past_due: bool) -> None:
        name = _name(function)
        self.stats.count(self.stats.invocations, name)
        request = TimerRequest(past_due=past_due)
        try:
            _call(function, request)
        except Exception:  # a failed timer run is logged; the next run happens on schedule
            log.exception("timer %s failed", name)
            self.stats.count(self.stats.failures, name)


_INDEXED: dict[int, list[func.Function]] = {}


@dataclass
class _Lease:
    queue: QueueClient
    message: Any
    receipt: str
    due: float


class _LeaseKeeper:
    """Keeps running messages invisible, as the host does, by renewing each at half the lease: one
    thread for every message in flight (a thread per message would cost more than a short job)."""

    def __init__(self, lease_seconds: float, stop: threading.Event, stats: HostStats) -> None:
        self.lease_seconds = lease_seconds
        self._stop = stop
        self._stats = stats
        self._lock = threading.Lock()
        self._held: dict[int, _Lease] = {}
        self._thread: threading.Thread | None = None

    def hold(self, queue: QueueClient, message: Any) -> _Lease:
        # Half-way through the invisibility the receive gave it (a message may wait in the pool).
        visible_at = message.next_visible_on
        left = (visible_at - datetime.now(UTC)).total_seconds() if visible_at else self.lease_seconds
        lease = _Lease(queue, message, str(message.pop_receipt), time.monotonic() + max(left, 0.0) / 2)
        with self._lock:
            self._held[id(lease)] = lease
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="host-leases", daemon=True)
                self._thread.start()
        return lease

    def release(self, lease: _Lease) -> str:
        """Stop renewing; the message's current pop receipt (a renewal replaces it)."""
        with self._lock:  # never while a renewal of it is under way
            self._held.pop(id(lease), None)
            return lease.receipt

    def _run(self) -> None:
        clock = _HostClock(self._stats)
        while not self._stop.wait(min(self.lease_seconds / 4, 1.0)):
            clock.tick()
            now = time.monotonic()
            with self._lock:
                for key, lease in list(self._held.items()):
                    if lease.due > now:
                        continue
                    try:
                        updated = lease.queue.update_message(
                            lease.message.id, lease.receipt, visibility_timeout=int(self.lease_seconds)
                        )
                    except AzureError:
                        del self._held[key]  # gone or re-delivered: the host stops renewing too
                        continue
                    lease.receipt, lease.due = str(updated.pop_receipt), now + self.lease_seconds / 2


def _indexed(app: func.FunctionApp) -> list[func.Function]:
    """The app's functions, indexed once per app as the real host does (indexing the same app twice
    makes azure-functions report every name as a duplicate)."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = list(app.get_functions())
    return _INDEXED[id(app)]


def _trigger(function: func.Function) -> Any:
    """The function's trigger; the library types it loosely (each trigger kind has its own fields)."""
    trigger = function.get_trigger()
    if trigger is None:
        raise ValueError(f"function {function.get_function_name()} has no trigger")
    return trigger


def _name(function: func.Function) -> str:
    return str(function.get_function_name())


def _thread_cpu(thread: threading.Thread | None) -> float:
    """A running thread's CPU seconds (Linux and other POSIX systems with per-thread clocks)."""
    if thread is None or thread.ident is None or not hasattr(time, "pthread_getcpuclockid"):
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except OSError:  # it ended
        return 0.0


def _available(semaphore: threading.Semaphore) -> int:
    return int(getattr(semaphore, "_value", 0))


def _create_queues(*clients: QueueClient) -> None:
    for client in clients:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()


def _decode(raw: str, encoding: str) -> bytes:
    if encoding != "base64":
        return raw.encode("utf-8")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"message is not valid base64 (host.json messageEncoding=base64): {exc}") from None


def _encode(text: str, encoding: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii") if encoding == "base64" else text


def run_forever(host: LocalFunctionsHost) -> None:
    """Block until Ctrl-C, then stop cleanly."""
    host.start()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
