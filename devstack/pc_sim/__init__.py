"""A faithful Partner Center stand-in: identity token endpoint, Referrals API, webhook
registration, signed webhook deliveries, Microsoft seller actions and fault injection."""

from devstack.pc_sim.app import Credentials
from devstack.pc_sim.control import PartnerCenterSimControl
from devstack.pc_sim.server import PartnerCenterSimulator

__all__ = ["Credentials", "PartnerCenterSimControl", "PartnerCenterSimulator"]
