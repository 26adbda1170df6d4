"""A Salesforce org simulator over real HTTP (OAuth, REST data API, SOQL subset, faults) for tests,
the demo and benchmarks. See `SalesforceSimulator` and `SalesforceSimControl`."""

from devstack.sf_sim.control import SalesforceSimControl
from devstack.sf_sim.sim_server import SalesforceSimulator
from devstack.sf_sim.transport import loopback_session

__all__ = ["SalesforceSimControl", "SalesforceSimulator", "loopback_session"]
