"""Fixtures every integration test can use: the Partner Center and Salesforce simulators (one per
session, reset per test), Settings pointing at them and at the session's Azurite, the API clients,
the ops CLI runner and the local Functions host. They live in the modules imported here, by side."""

from tests.integration.ops_fixtures import *  # noqa: F403
from tests.integration.pc_fixtures import *  # noqa: F403
from tests.integration.sf_fixtures import *  # noqa: F403
from tests.integration.sync_fixtures import *  # noqa: F403
