"""A faithful Partner Center stand-in: identity token endpoint, Referrals API, webhook registration,
signed webhook deliveries, Microsoft seller actions, fault injection and selectable tenant
behaviours (single-tenant authority, rotating refresh tokens, `$filter` modes, read faults, the
webhook signing chain)."""

from devstack.pc_sim.pc_cert_chain import CertificateOptions
from devstack.pc_sim.pc_identity import Credentials, IdentityOptions
from devstack.pc_sim.pc_sim_client import PartnerCenterSimControl
from devstack.pc_sim.pc_simulator import PartnerCenterSimulator

__all__ = [
    "CertificateOptions",
    "Credentials",
    "IdentityOptions",
    "PartnerCenterSimControl",
    "PartnerCenterSimulator",
]
