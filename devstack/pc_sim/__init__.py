"""A faithful Partner Center stand-in: identity token endpoint, Referrals API, webhook
registration, signed webhook deliveries, Microsoft seller actions and fault injection."""

from devstack.pc_sim.pc_identity import Credentials
from devstack.pc_sim.pc_sim_client import PartnerCenterSimControl
from devstack.pc_sim.pc_simulator import PartnerCenterSimulator

__all__ = ["Credentials", "PartnerCenterSimControl", "PartnerCenterSimulator"]
