"""Compatibility re-export: the referral rules now live in `referral_rules`."""

from devstack.pc_sim.referral_rules import (
    READ_ONLY_PATHS,
    error_body,
    is_cosell,
    referral_problems,
    transition_problems,
)

__all__ = ["READ_ONLY_PATHS", "error_body", "is_cosell", "referral_problems", "transition_problems"]
