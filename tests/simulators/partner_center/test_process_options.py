"""The tenant behaviours are selectable on the command line of `python -m devstack.pc_sim` too."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from devstack.pc_sim import PartnerCenterSimControl

pytestmark = pytest.mark.integration


def test_process_flags_select_the_awkward_behaviours():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.pc_sim",
            "--port",
            "0",
            "--single-tenant",
            "--filter-mode",
            "externalReferenceId=ignore",
            "--evil-signer",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        origin, settings = started["origin"], started["settings"]
        form = {
            "grant_type": "refresh_token",
            "client_id": settings["pc_client_id"],
            "client_secret": settings["pc_client_secret"],
            "refresh_token": settings["pc_refresh_token"],
            "resource": "https://api.partner.microsoft.com",
        }
        refused = httpx.post(f"{origin}/common/oauth2/token", data=form)
        assert refused.status_code == 400 and refused.json()["error_codes"] == [50194]
        assert httpx.post(settings["pc_token_url"], data=form).status_code == 200
        with PartnerCenterSimControl(origin) as control:
            assert control.certificate()["signer"] == "evil"
            assert control.set_filter_modes({}) == {}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
