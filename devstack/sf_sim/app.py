"""Compatibility alias: the HTTP app moved to `http_app` and its routes to `*_routes` modules.
Kept only because tests/integration/test_sf_new_opportunity.py imports `resolve_references` from
here; import it from `devstack.sf_sim.composite_routes` instead, then delete this module."""

from devstack.sf_sim.composite_routes import resolve_references
from devstack.sf_sim.http_app import SimState, build_app

__all__ = ["SimState", "build_app", "resolve_references"]
