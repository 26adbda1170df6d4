"""The local host reproduces the Functions host semantics we rely on, against real Azurite."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite
from devstack.host import LocalFunctionsHost, QueueSettings, parse_timespan, resolve_setting_expression

pytestmark = pytest.mark.e2e

HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "http": {"routePrefix": "api"},
        "queues": {
            "batchSize": 2,
            "newBatchThreshold": 1,
            "maxDequeueCount": 3,
            "visibilityTimeout": "00:00:01",
            "maxPollingInterval": "00:00:01",
            "messageEncoding": "base64",
        },
    },
}


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def queue_with_messages(conn: str, name: str, count: int) -> QueueClient:
    """Queue `name` (created when missing) holding `count` more base64 messages "0", "1", ..."""
    client = QueueClient.from_connection_string(conn, name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    for i in range(count):
        client.send_message(base64.b64encode(str(i).encode()).decode())
    return client


def build_app(seen: list[tuple[str, int]], timer_runs: list[bool]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.function_name("intake")
    @app.route(route="things/{kind}", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name="work", connection="AzureWebJobsStorage")
    def intake(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        out.set(json.dumps({"kind": req.route_params["kind"], "body": req.get_json()}))
        return func.HttpResponse("queued", status_code=202)

    @app.function_name("work")
    @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        payload = json.loads(msg.get_body())
        seen.append((payload["kind"], msg.dequeue_count or 0))
        if payload["kind"] == "bad":
            raise RuntimeError("this one always fails")

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%", run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        timer_runs.append(timer.past_due)

    return app


@pytest.fixture
def running(azurite: Azurite) -> Iterator[tuple[LocalFunctionsHost, list[tuple[str, int]], list[bool]]]:
    seen: list[tuple[str, int]] = []
    timer_runs: list[bool] = []
    conn = azurite.connection_string
    for name in ("work", "work-poison"):
        client = QueueClient.from_connection_string(conn, name)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        client.clear_messages()
    environ = {"AzureWebJobsStorage": conn, "TICK_SCHEDULE": "*/1 * * * * *"}
    host = LocalFunctionsHost(build_app(seen, timer_runs), host_json=HOST_JSON, environ=environ)
    with host:
        yield host, seen, timer_runs


def test_http_post_reaches_the_function_and_its_output_lands_on_the_queue_and_is_processed(running):
    host, seen, _ = running
    reply = httpx.post(f"{host.base_url}/api/things/good", json={"n": 1})
    assert reply.status_code == 202
    assert reply.text == "queued"
    wait_for(lambda: ("good", 1) in seen)


def test_failing_queue_function_is_retried_then_poisoned_with_the_original_body(running, azurite):
    host, seen, _ = running
    httpx.post(f"{host.base_url}/api/things/bad", json={"n": "é✔"})
    poison = QueueClient.from_connection_string(azurite.connection_string, "work-poison")
    wait_for(lambda: poison.get_queue_properties().approximate_message_count == 1)
    assert [count for kind, count in seen if kind == "bad"] == [1, 2, 3]
    [message] = poison.peek_messages(max_messages=1)
    assert json.loads(base64.b64decode(message.content)) == {"kind": "bad", "body": {"n": "é✔"}}
    wait_for(lambda: host.stats.poisoned.get("work") == 1)  # counted once its original is deleted


def test_timer_runs_on_startup_and_then_on_its_schedule(running):
    _, _, timer_runs = running
    wait_for(lambda: len(timer_runs) >= 3, timeout=10)
    assert timer_runs[0] is False


def test_unknown_route_and_wrong_method_are_refused(running):
    host, _, _ = running
    assert httpx.post(f"{host.base_url}/api/nothing").status_code == 404
    assert httpx.get(f"{host.base_url}/api/things/good").status_code == 405


def test_host_json_values_are_read_as_the_host_reads_them():
    qs = QueueSettings.from_host_json(HOST_JSON)
    assert (qs.batch_size, qs.new_batch_threshold, qs.max_dequeue_count) == (2, 1, 3)
    assert qs.visibility_timeout == 1.0
    assert parse_timespan("1.02:03:04") == 93784.0
    assert QueueSettings.from_host_json({}).max_dequeue_count == 5
    assert resolve_setting_expression("%A% and %B%", {"A": "1", "B": "2"}) == "1 and 2"
    with pytest.raises(KeyError, match="MISSING"):
        resolve_setting_expression("%MISSING%", {})


def test_messages_are_processed_concurrently_up_to_the_batch_limits(azurite):
    active = 0
    peak = 0
    lock = threading.Lock()
    done: list[int] = []
    app = func.FunctionApp()

    @app.function_name("slow")
    @app.queue_trigger(arg_name="msg", queue_name="slow", connection="AzureWebJobsStorage")
    def slow(msg: func.QueueMessage) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.3)
        with lock:
            active -= 1
        done.append(1)

    conn = azurite.connection_string
    queue_with_messages(conn, "slow", 8)
    with LocalFunctionsHost(app, host_json=HOST_JSON, environ={"AzureWebJobsStorage": conn}):
        wait_for(lambda: len(done) == 8)
    assert 2 <= peak <= 3  # batchSize + newBatchThreshold


def test_a_message_running_longer_than_its_lease_is_kept_invisible_and_runs_once(azurite):
    runs: list[int] = []
    app = func.FunctionApp()

    @app.function_name("long")
    @app.queue_trigger(arg_name="msg", queue_name="long", connection="AzureWebJobsStorage")
    def long(msg: func.QueueMessage) -> None:
        runs.append(msg.dequeue_count or 0)
        time.sleep(5.0)  # the lease is 3 s: renewed about every 1.5 s

    conn = azurite.connection_string
    client = QueueClient.from_connection_string(conn, "long")
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    client.send_message(base64.b64encode(b"slow work").decode())
    host = LocalFunctionsHost(
        app, host_json=HOST_JSON, environ={"AzureWebJobsStorage": conn}, processing_lease_seconds=3
    )
    with host:
        wait_for(lambda: client.get_queue_properties().approximate_message_count == 0, timeout=20)
        time.sleep(1.0)
    assert runs == [1]  # never re-delivered while it ran, deleted with its renewed receipt
    assert host.stats.failures == {}


def test_the_hosts_own_cpu_is_counted_apart_from_the_functions(azurite):
    """`host_cpu_seconds`: the host's queue loop, deletes, lease renewals and HTTP server, not the
    CPU the functions burn (which the benchmark counts as the app's)."""
    burn_each = 0.25
    done: list[int] = []
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    def burn() -> None:
        until = time.thread_time() + burn_each
        while time.thread_time() < until:
            pass

    @app.function_name("busy")
    @app.queue_trigger(arg_name="msg", queue_name="busy", connection="AzureWebJobsStorage")
    def busy(msg: func.QueueMessage) -> None:
        burn()
        done.append(1)

    @app.function_name("busy_http")
    @app.route(route="busy", methods=["POST"])
    def busy_http(req: func.HttpRequest) -> func.HttpResponse:
        burn()
        return func.HttpResponse("ok")

    conn = azurite.connection_string
    queue_with_messages(conn, "busy", 4)
    host = LocalFunctionsHost(app, host_json=HOST_JSON, environ={"AzureWebJobsStorage": conn})
    with host:
        for _ in range(2):
            assert httpx.post(f"{host.base_url}/api/busy", timeout=10).status_code == 200
        wait_for(lambda: len(done) == 4)
        own = host.host_cpu_seconds()
    assert 0 < own < burn_each  # six functions burnt 1.5 s between them; the host a fraction of one
