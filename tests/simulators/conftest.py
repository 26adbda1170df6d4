"""The simulators' own tests: their rules as pure functions, and their HTTP APIs served for real.
The shared simulator fixtures (one per session, reset per test) are the integration tier's."""

from tests.integration.pc_fixtures import *  # noqa: F403
from tests.integration.sf_fixtures import *  # noqa: F403
