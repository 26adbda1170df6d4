"""State and Country/Territory picklists on Account addresses (Billing, Shipping).

With the picklists on, `<prefix>CountryCode` is a restricted picklist of ISO codes (case-insensitive)
and `<prefix>Country` holds the country's integration value (by default the ISO country *name*);
saving either sets the other, and a value that is not in the list fails with
FIELD_INTEGRITY_EXCEPTION. Sources: "State and Country/Territory Picklist Field-Syncing Logic"
https://help.salesforce.com/s/articleView?id=xcloud.admin_state_country_picklists_field_syncing.htm
and "Integration Values for State and Country/Territory Picklists"
https://help.salesforce.com/s/articleView?id=xcloud.admin_state_country_picklists_integ_values.htm
("Codes are case insensitive": .../articleView?id=xcloud.state_country_and_territory_picklist_fields.htm).
"""

from __future__ import annotations

from typing import Any

import pycountry

from devstack.sf_sim.record_json import Record
from devstack.sf_sim.sf_errors import SfError

ADDRESS_PREFIXES = ("Billing", "Shipping")


def country_picklist() -> list[tuple[str, str]]:
    """(ISO code, integration value = ISO name) of every country in the picklist."""
    return [(c.alpha_2, c.name) for c in pycountry.countries]


def _by_code(code: str) -> Any:
    return pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None


def _by_name(name: str) -> Any:
    return next((c for c in pycountry.countries if c.name.lower() == name.lower()), None)


def country_error(prefix: str, value: str) -> SfError:
    # The message Salesforce shows for a country that is not in the picklist (a code in the text
    # field included); errorCode FIELD_INTEGRITY_EXCEPTION.
    return SfError(
        400,
        "FIELD_INTEGRITY_EXCEPTION",
        "There's a problem with this country, even though it may appear correct. Please select a "
        f"country/territory from the list of valid countries.: {prefix} Country: {value}",
        [f"{prefix}Country"],
    )


def sync_countries(record: Record, changed: set[str]) -> None:
    for prefix in ADDRESS_PREFIXES:
        _sync_country(prefix, record, changed)


def _sync_country(prefix: str, record: Record, changed: set[str]) -> None:
    code_field, name_field = f"{prefix}CountryCode", f"{prefix}Country"
    code, name = record.get(code_field), record.get(name_field)
    if code_field in changed and code:
        country = _by_code(code)
        if country is None:
            raise SfError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{prefix} Country Code: bad value for restricted picklist field: {code}",
                [code_field],
            )
        if name_field in changed and name and name.lower() != country.name.lower():
            raise country_error(prefix, name)
    elif name_field in changed and name:
        country = _by_name(name)
        if country is None:
            raise country_error(prefix, name)
    elif code_field in changed or name_field in changed:
        record[code_field] = record[name_field] = None  # clearing one clears both
        return
    else:
        return
    record[code_field], record[name_field] = country.alpha_2, country.name
