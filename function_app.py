"""The Functions entry point: registers the blueprints in shared/triggers and nothing else."""

import azure.functions as func

from shared.config import get_settings
from shared.telemetry import configure_telemetry
from shared.triggers import ops, poller, webhook, worker

configure_telemetry(get_settings())

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (webhook.bp, poller.bp, worker.bp, ops.bp):
    app.register_functions(blueprint)
