"""Every app setting the connector reads, typed, in one place.

Azure Functions exposes app settings as environment variables; locally `local.settings.json`
(copied from `local.settings.sample.json`) provides the same names. No other module reads
`os.environ`: everything takes a `Settings`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from shared.errors import ConfigError

SYNC_QUEUE = "sync-jobs"
"""The work queue; its poison queue is `sync-jobs-poison` (host convention `<queue>-poison`)."""
POISON_QUEUE = f"{SYNC_QUEUE}-poison"
AUTO = "auto"
"""Value of the settings resolved from the Salesforce org's description (DEAL_CURRENCY_FIELD,
ACCOUNT_COUNTRY_FIELD)."""
DEFAULT_CURRENCY_FIELD = "CurrencyIsoCode"
DEFAULT_COUNTRY_FIELD = "Account.BillingCountry"


def _yes_no(value: object) -> bool:
    """The original connector's Yes/No settings accept only Yes or No (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "yes":
        return True
    if text == "no":
        return False
    raise ValueError("must be Yes or No")


YesNo = Annotated[bool, BeforeValidator(_yes_no)]


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_csv)]


class Settings(BaseSettings):
    """App settings. Field names upper-cased are the app setting names (aliases where the
    platform fixes another spelling, such as `AzureWebJobsStorage`)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", populate_by_name=True)

    # --- storage (the Functions host's own account; identity-based in Azure) -------------------
    storage_connection: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AzureWebJobsStorage", "storage_connection"),
        description="Connection string (Azurite locally: UseDevelopmentStorage=true). Not set in Azure,"
        " where AzureWebJobsStorage__accountName and the identity are used; with neither, storage"
        " operations fail naming both settings (never a silent emulator default).",
    )
    storage_account_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AzureWebJobsStorage__accountName", "storage_account_name"),
        description="Storage account reached with the managed identity when no connection string.",
    )
    storage_client_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AzureWebJobsStorage__clientId", "storage_client_id"),
        description="Client id of the user-assigned managed identity.",
    )
    links_table: str = Field(default="SyncLinks", description="Link and snapshot table.")
    watermarks_table: str = Field(default="SyncWatermarks", description="Poll/reconcile watermarks.")
    audit_table: str = Field(default="SyncAudit", description="One row per sync action.")

    # --- Partner Center --------------------------------------------------------------------------
    pc_api_base_url: str = Field(
        default="https://api.partner.microsoft.com/v1.0/engagements",
        description="Referrals API base; referrals live under /referrals.",
    )
    pc_webhook_api_base_url: str = Field(
        default="https://api.partnercenter.microsoft.com/webhooks/v1",
        description="Webhook registration API base (another host, another token audience).",
    )
    pc_token_url: str = Field(
        default="https://login.microsoftonline.com/{tenant}/oauth2/token",
        description="Microsoft identity token endpoint (refresh-token grant, Secure Application Model);"
        " {tenant} is replaced by PC_TENANT_ID. /common is refused (AADSTS50194 for single-tenant apps).",
    )
    pc_tenant_id: str = Field(default="", description="Partner's Entra tenant id (the token authority).")
    pc_client_id: str = Field(default="", description="Entra app (client) id.")
    pc_client_secret: SecretStr = Field(default=SecretStr(""), description="Entra app secret (Key Vault).")
    pc_refresh_token: SecretStr = Field(
        default=SecretStr(""), description="Refresh token of a Referrals-admin user (Key Vault)."
    )
    pc_refresh_token_vault_url: str = Field(
        default="",
        description="Key Vault (https://<vault>.vault.azure.net/) where the rotated refresh token is"
        " written back; empty locally.",
    )
    pc_refresh_token_secret_name: str = Field(
        default="pc-refresh-token", description="Secret holding PC_REFRESH_TOKEN in that vault."
    )
    pc_referrals_resource: str = Field(
        default="https://api.partner.microsoft.com", description="Token audience for referrals."
    )
    pc_webhook_resource: str = Field(
        default="https://api.partnercenter.microsoft.com",
        description="Token audience for webhook registration.",
    )
    pc_webhook_callback_url: str = Field(
        default="http://127.0.0.1:7071/api/partner-center/events",
        description="Public URL of our webhook function, registered with Partner Center.",
    )
    pc_webhook_own_urls: CsvList = Field(
        default=[],
        description="Former callback URLs of this deployment (comma-separated). The webhook check"
        " re-registers over a registration pointing at one of them; any other URL (another tool, another"
        " deployment such as staging) is never taken over: it is reported and alerted.",
    )
    pc_webhook_cert_hosts: CsvList = Field(
        default=["3psostorageacct.blob.core.windows.net"],
        description="Hosts allowed in x-ms-certificate-url (comma-separated).",
    )
    pc_webhook_max_body_bytes: int = Field(default=65536, gt=0, description="Webhook body size cap.")
    sf_loopback_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="LOCAL STACK ONLY (never set by infra): send the Salesforce client's https traffic to"
        " the simulator on this 127.0.0.1 port (the ops CLI from another shell beside `make demo`).",
    )
    pc_webhook_test_trust_anchor_pem: str = Field(
        default="",
        description="TESTS AND THE LOCAL STACK ONLY (never set by infra): PEM certificates trusted"
        " instead of the OS/certifi store for webhook signing certificates (self-signed ones are"
        " roots, others intermediates).",
    )
    pc_portal_referral_url: str = Field(
        default="https://partner.microsoft.com/dashboard/referrals/v2/leads/{id}/details",
        description="Referral Link template; {id} is the referral id.",
    )
    pc_timeout_seconds: float = Field(default=30.0, gt=0, description="HTTP timeout per call.")
    pc_max_retries: int = Field(default=4, ge=0, description="Retries per call for 429/5xx.")
    pc_max_requests_per_second: float = Field(
        default=0.0,
        ge=0,
        description="Partner Center requests a second per process (0: unlimited; the templates set"
        " 20), shared by live sync, backfill and reconcile; backfill and reconcile yield to live sync.",
    )

    # --- Salesforce ------------------------------------------------------------------------------
    sf_login_url: str = Field(
        default="https://login.salesforce.com",
        description="Login host: login / test (sandbox) / My Domain URL.",
    )
    sf_api_version: str = Field(default="59.0", description="REST API version, always sent.")
    sf_auth_mode: Literal["jwt", "client_credentials", "password"] = Field(
        default="jwt", description="OAuth flow for the integration user."
    )
    sf_client_id: str = Field(default="", description="Connected app consumer key.")
    sf_client_secret: SecretStr = Field(default=SecretStr(""), description="Consumer secret (Key Vault).")
    sf_username: str = Field(default="", description="Integration user name.")
    sf_password: SecretStr = Field(default=SecretStr(""), description="Password mode only (Key Vault).")
    sf_security_token: SecretStr = Field(default=SecretStr(""), description="Password mode only.")
    sf_private_key: SecretStr = Field(
        default=SecretStr(""), description="PEM private key for the JWT bearer flow (Key Vault)."
    )
    sf_timeout_seconds: float = Field(default=30.0, gt=0, description="HTTP timeout per call.")
    sf_max_retries: int = Field(default=4, ge=0, description="Retries per call for retryable errors.")
    sf_limit_slowdown_pct: int = Field(
        default=80, ge=1, le=100, description="Slow down above this % of the daily API limit."
    )
    sf_daily_budget_percent: float = Field(
        default=50.0,
        gt=0,
        le=100,
        description="Share (%) of the org's daily Salesforce API allocation this connector may use per"
        " process and UTC day (100: no budget); backfill and reconcile stop at 90 % of it.",
    )

    # --- Salesforce poll -------------------------------------------------------------------------
    sf_poll_schedule: str = Field(
        default="0 * * * * *", description="NCRONTAB (seconds first) of the Salesforce poll."
    )
    sf_poll_overlap_seconds: int = Field(
        default=120, ge=0, description="Re-read window behind the watermark (late commits)."
    )
    sf_poll_lookback_hours: int = Field(default=24, ge=0, description="First poll looks back this far.")
    sf_integration_user_dedicated: YesNo = Field(
        default=True,
        description="The integration user is this connector's alone (the README's install creates one):"
        " the poll then takes contact roles, solutions, accounts and notes it last modified for echoes"
        " of our own writes (no job, no read). No: a user shared with other tools or people; every"
        " such change then costs a sync job.",
    )
    reconcile_schedule: str = Field(
        default="0 */30 * * * *", description="NCRONTAB of the Partner Center reconcile."
    )
    webhook_check_schedule: str = Field(
        default="0 0 6 * * *", description="NCRONTAB of the daily webhook registration check."
    )

    # --- connector customisation (the original's B2 settings, and ours beyond them) --------------
    check_mark_in_name: YesNo = Field(default=True, description="✔/✖ prefix on the opportunity name.")
    active_stage_name: str = Field(default="Qualification", description="Stage of an accepted referral.")
    on_hold_stage_name: str = Field(
        default="Prospecting", description="Stage of a Microsoft referral not yet accepted."
    )
    won_stage_name: str = Field(default="Closed Won", description="Stage meaning the deal was won.")
    lost_stage_name: str = Field(default="Closed Lost", description="Stage meaning lost/declined.")
    account_country_field: str = Field(
        default=AUTO,
        description="Country field: a plain API name is an Account field (as in the original connector),"
        " 'Opportunity.X' an opportunity field. auto: Account.BillingCountry, the ISO code written to"
        " BillingCountryCode when the org has State and Country/Territory picklists. Lookup paths"
        " (Account.Country__r.Code__c) are refused: they cannot be written back.",
    )

    @field_validator("account_country_field")
    @classmethod
    def _country_field(cls, value: str) -> str:
        parts = value.strip().split(".")
        plain = all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", p) for p in parts)
        if value.strip().lower() == AUTO or (
            plain
            and (len(parts) == 1 or (len(parts) == 2 and parts[0].lower() in ("account", "opportunity")))
        ):
            return value.strip()
        raise ValueError(
            f"ACCOUNT_COUNTRY_FIELD {value!r}: use a field of the Account (BillingCountry or Account.X) or"
            " Opportunity.X; a lookup path such as Account.Country__r.Code__c cannot be written back"
        )

    deal_value_field: str = Field(default="Amount", description="Opportunity field with the deal value.")
    deal_currency_field: str = Field(
        default=AUTO,
        description="Opportunity currency field; empty when single-currency. auto: CurrencyIsoCode when"
        " the org has multi-currency on, else none (DEFAULT_CURRENCY).",
    )
    sf_opportunity_record_type: str = Field(
        default="",
        description="Developer name of the Opportunity record type new opportunities get (its sales"
        " process decides the valid stages); empty: the integration user's default record type.",
    )
    sf_on_duplicate: Literal["link", "allow_save"] = Field(
        default="link",
        description="An account/contact create refused by a duplicate rule: link to the record the rule"
        " matched (link), or save the duplicate anyway (allow_save: Sforce-Duplicate-Rule-Header).",
    )
    partner_team_role: str = Field(
        default="Sales Rep",
        description="TeamMemberRole of a person added to the Opportunity Team because they were added to"
        " the referral's partner team in Partner Center (access Read).",
    )
    default_currency: str = Field(
        default="USD", min_length=3, max_length=3, description="Currency when the org has none."
    )
    sync_cosell_only: YesNo = Field(
        default=True, description="Yes: only co-sell referrals come to Salesforce; No: leads too."
    )
    notes_to_description: YesNo = Field(
        default=False,
        description="Yes: also write the referral's whole notes text into the opportunity's Description"
        " (notes always arrive as one Salesforce note per addition; Description is left alone by default).",
    )
    custom_mappings: str = Field(
        default="",
        description="JSON list of extra field mappings (Salesforce field <-> referral path, direction,"
        " transform); see shared/core/custom_mappings.py and the README.",
    )
    create_defaults: str = Field(
        default="",
        description="JSON object of constants for required fields on create,"
        ' e.g. {"Opportunity.Type": "New Customer"}.',
    )
    on_opportunity_deleted: Literal["unlink", "recreate"] = Field(
        default="unlink",
        description="A linked opportunity deleted in Salesforce: unlink the pair (Partner Center is"
        " untouched, later referral changes do not re-create it) or recreate it on the next change.",
    )
    conflict_owner_overrides: str = Field(
        default="",
        description="field=side pairs (side: salesforce|partner_center) overriding the owner policy.",
    )
    audit_field_max_chars: int = Field(
        default=32000, gt=100, description="Length kept in the opportunity's Audit field."
    )

    # --- operations ------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Python log level of the app's loggers (cosell_sync.*, shared.*)."
    )
    retry_delay_max_seconds: int = Field(
        default=300, ge=1, description="Cap of the delay before a re-enqueued job runs again."
    )
    applicationinsights_connection_string: SecretStr = Field(
        default=SecretStr(""), description="App Insights; empty disables our OpenTelemetry export."
    )

    @field_validator("pc_webhook_cert_hosts")
    @classmethod
    def _hosts_lower(cls, hosts: list[str]) -> list[str]:
        return [h.lower() for h in hosts]

    @property
    def sf_country_path(self) -> tuple[str, ...]:
        """The country field as a path; `auto` reads and writes Account.BillingCountry (the Salesforce
        client moves a code to BillingCountryCode when the org has country picklists)."""
        field = (
            DEFAULT_COUNTRY_FIELD
            if self.account_country_field.lower() == AUTO
            else self.account_country_field
        )
        parts = tuple(field.split("."))
        if len(parts) == 1:  # a plain name is an Account field, as the original connector read it
            return ("Account", parts[0])
        return ("Account", parts[1]) if parts[0].lower() == "account" else (parts[1],)

    @property
    def sf_currency_field(self) -> str:
        """The currency field; `auto` reads and writes CurrencyIsoCode (absent from the records of a
        single-currency org, and dropped from its writes by the Salesforce client)."""
        return (
            DEFAULT_CURRENCY_FIELD if self.deal_currency_field.lower() == AUTO else self.deal_currency_field
        )


def setting_names() -> set[str]:
    """The app setting names `Settings` reads (what the sample file and the infra must hold)."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
            names.add(alias.choices[0])
        else:
            names.add(name.upper())
    return names


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value fails once, naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "?"
            lines.append(f"setting {loc.upper()}: {err['msg']}")
        raise ConfigError("invalid app settings: " + "; ".join(lines)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid app settings: {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (functions call this once per invocation; cached)."""
    return load_settings()
