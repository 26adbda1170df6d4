"""Compatibility re-export: the control client now lives in `pc_sim_client`."""

from devstack.pc_sim.pc_sim_client import PartnerCenterSimControl

__all__ = ["PartnerCenterSimControl"]
