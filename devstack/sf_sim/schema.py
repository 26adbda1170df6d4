"""The simulated org's schema: standard objects in a table here, our custom fields and object loaded
from `salesforce-metadata/` (so metadata drift breaks the tests that run against the simulator)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

METADATA_DIR = Path(__file__).resolve().parents[2] / "salesforce-metadata" / "force-app" / "main" / "default"
MD_NS = "{http://soap.sforce.com/2006/04/metadata}"

# (StageName, probability, forecast category, closed, won) — the OpportunityStage default value set.
DEFAULT_STAGES: tuple[tuple[str, int, str, bool, bool], ...] = (
    ("Prospecting", 10, "Pipeline", False, False),
    ("Qualification", 10, "Pipeline", False, False),
    ("Needs Analysis", 20, "Pipeline", False, False),
    ("Value Proposition", 50, "Pipeline", False, False),
    ("Id. Decision Makers", 60, "Pipeline", False, False),
    ("Perception Analysis", 70, "Pipeline", False, False),
    ("Proposal/Price Quote", 75, "Pipeline", False, False),
    ("Negotiation/Review", 90, "Pipeline", False, False),
    ("Closed Won", 100, "Closed", True, True),
    ("Closed Lost", 0, "Omitted", True, False),
)
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "INR", "KWD")
CONTACT_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)


@dataclass
class FieldDef:
    """One field as describe reports it, plus what the simulator enforces on writes."""

    name: str
    type: str  # id, string, textarea, boolean, date, datetime, double, currency, percent, int, picklist,
    # multipicklist, reference, url, email, phone, base64
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: object = None
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    # a switch name ("multi_currency", "country_picklists") the field depends on
    requires: str | None = None
    child_relationship: str | None = None  # name of the parent's child list (custom lookups)


@dataclass
class ChildRelationship:
    name: str
    child: str
    field: str


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    children: dict[str, ChildRelationship] = field(default_factory=dict)  # lower-case name -> rel
    createable: bool = True
    requires: str | None = None  # an org feature the object exists with ("opportunity_teams")

    def add(self, *defs: FieldDef) -> None:
        for d in defs:
            self.fields[d.name.lower()] = d

    def external_ids(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]


def _ro(name: str, type_: str, **kw: object) -> FieldDef:
    return FieldDef(name, type_, createable=False, updateable=False, **kw)  # type: ignore[arg-type]


def _audit() -> list[FieldDef]:
    return [
        _ro("Id", "id", length=18),
        _ro("IsDeleted", "boolean"),
        _ro("CreatedDate", "datetime"),
        _ro("CreatedById", "reference", reference_to="User", relationship_name="CreatedBy"),
        _ro("LastModifiedDate", "datetime"),
        _ro("LastModifiedById", "reference", reference_to="User", relationship_name="LastModifiedBy"),
        _ro("SystemModstamp", "datetime"),
    ]


def _opportunity() -> ObjectDef:
    stages = tuple(s[0] for s in DEFAULT_STAGES)
    opp = ObjectDef("Opportunity", "006")
    opp.add(
        *_audit(),
        FieldDef("Name", "string", 120, required=True),
        FieldDef("AccountId", "reference", 18, reference_to="Account", relationship_name="Account"),
        FieldDef("StageName", "picklist", 255, required=True, picklist=stages, restricted=True),
        FieldDef("CloseDate", "date", required=True),
        FieldDef("Amount", "currency"),
        FieldDef("Probability", "percent"),
        _ro("ExpectedRevenue", "currency"),
        _ro("IsClosed", "boolean"),
        _ro("IsWon", "boolean"),
        _ro("ForecastCategory", "picklist", length=40),
        FieldDef(
            "ForecastCategoryName",
            "picklist",
            40,
            picklist=("Omitted", "Pipeline", "BestCase", "Forecast", "Closed"),
        ),
        FieldDef("Description", "textarea", 32000),
        FieldDef("NextStep", "string", 255),
        FieldDef(
            "Type",
            "picklist",
            255,
            picklist=(
                "New Customer",
                "Existing Customer - Upgrade",
                "Existing Customer - Replacement",
                "Existing Customer - Downgrade",
            ),
        ),
        FieldDef(
            "LeadSource",
            "picklist",
            255,
            picklist=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        ),
        FieldDef("OwnerId", "reference", 18, reference_to="User", relationship_name="Owner"),
        FieldDef(
            "CurrencyIsoCode", "picklist", 3, picklist=CURRENCIES, restricted=True, requires="multi_currency"
        ),
        FieldDef(
            "RecordTypeId",
            "reference",
            18,
            reference_to="RecordType",
            relationship_name="RecordType",
            requires="record_types",
        ),
    )
    return opp


def _address(prefix: str) -> list[FieldDef]:
    """An address's parts; lengths from the Account field reference (Street textarea 255, City 40,
    State 80, PostalCode 20, Country 80)."""
    return [
        FieldDef(f"{prefix}Street", "textarea", 255),
        FieldDef(f"{prefix}City", "string", 40),
        FieldDef(f"{prefix}State", "string", 80),
        FieldDef(f"{prefix}PostalCode", "string", 20),
        FieldDef(f"{prefix}Country", "string", 80),
        FieldDef(f"{prefix}StateCode", "picklist", 10, requires="country_picklists"),
        FieldDef(f"{prefix}CountryCode", "picklist", 10, requires="country_picklists"),
    ]


def _read_only_object(name: str, prefix: str, *fields: FieldDef) -> ObjectDef:
    """A setup object the API can read but not write (Id, the fields, SystemModstamp)."""
    obj = ObjectDef(name, prefix, createable=False)
    obj.add(_ro("Id", "id", length=18), *fields, _ro("SystemModstamp", "datetime"))
    return obj


def _record_type() -> ObjectDef:
    return _read_only_object(
        "RecordType",
        "012",
        _ro("Name", "string", length=80),
        _ro("DeveloperName", "string", length=80),
        _ro("SobjectType", "picklist", length=40),
        _ro("IsActive", "boolean"),
    )


def _account() -> ObjectDef:
    account = ObjectDef("Account", "001")
    account.add(
        *_audit(),
        FieldDef("Name", "string", 255, required=True),
        *_address("Billing"),
        *_address("Shipping"),
        FieldDef("Website", "url", 255),
        FieldDef("Phone", "phone", 40),
        FieldDef(
            "Industry",
            "picklist",
            255,
            picklist=(
                "Technology",
                "Finance",
                "Healthcare",
                "Retail",
                "Manufacturing",
                "Government",
                "Education",
                "Other",
            ),
        ),
        FieldDef("NumberOfEmployees", "int"),
        FieldDef(
            "Type",
            "picklist",
            255,
            picklist=(
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Other",
            ),
        ),
        FieldDef("OwnerId", "reference", 18, reference_to="User", relationship_name="Owner"),
        FieldDef(
            "CurrencyIsoCode", "picklist", 3, picklist=CURRENCIES, restricted=True, requires="multi_currency"
        ),
    )
    return account


def _contact() -> ObjectDef:
    contact = ObjectDef("Contact", "003")
    contact.add(
        *_audit(),
        FieldDef("FirstName", "string", 40),
        FieldDef("LastName", "string", 80, required=True),
        _ro("Name", "string", length=121),
        FieldDef("Email", "email", 80),
        FieldDef("Phone", "phone", 40),
        FieldDef("MobilePhone", "phone", 40),
        FieldDef("Title", "string", 128),
        FieldDef("AccountId", "reference", 18, reference_to="Account", relationship_name="Account"),
        FieldDef("OwnerId", "reference", 18, reference_to="User", relationship_name="Owner"),
    )
    return contact


def _contact_role() -> ObjectDef:
    ocr = ObjectDef("OpportunityContactRole", "00K")
    ocr.add(
        *_audit(),
        FieldDef(
            "OpportunityId",
            "reference",
            18,
            required=True,
            updateable=False,
            reference_to="Opportunity",
            relationship_name="Opportunity",
        ),
        FieldDef(
            "ContactId", "reference", 18, required=True, reference_to="Contact", relationship_name="Contact"
        ),
        FieldDef("Role", "picklist", 40, picklist=CONTACT_ROLES),
        FieldDef("IsPrimary", "boolean", default=False),
    )
    return ocr


def _content_objects() -> list[ObjectDef]:
    note = ObjectDef("ContentNote", "069")
    note.add(
        *_audit(),
        FieldDef("Title", "string", 255, required=True),
        FieldDef("Content", "base64"),
        _ro("FileType", "string", length=20),
        _ro("TextPreview", "string", length=255),
    )
    doc = ObjectDef("ContentDocument", "069", createable=False)
    doc.add(*_audit(), _ro("Title", "string", length=255), _ro("FileType", "string", length=20))
    link = ObjectDef("ContentDocumentLink", "06A")
    link.add(
        _ro("Id", "id", length=18),
        _ro("IsDeleted", "boolean"),
        _ro("SystemModstamp", "datetime"),
        FieldDef(
            "ContentDocumentId",
            "reference",
            18,
            required=True,
            updateable=False,
            reference_to="ContentDocument",
            relationship_name="ContentDocument",
        ),
        FieldDef(
            "LinkedEntityId",
            "reference",
            18,
            required=True,
            updateable=False,
            reference_to="Opportunity",
            relationship_name="LinkedEntity",
        ),
        FieldDef("ShareType", "picklist", 40, picklist=("V", "C", "I"), restricted=True, default="V"),
        FieldDef(
            "Visibility",
            "picklist",
            40,
            picklist=("AllUsers", "InternalUsers", "SharedUsers"),
            restricted=True,
            default="AllUsers",
        ),
    )
    return [note, doc, link]


def _opportunity_stage() -> ObjectDef:
    return _read_only_object(
        "OpportunityStage",
        "01J",
        _ro("MasterLabel", "string", length=255),
        _ro("ApiName", "string", length=255),
        _ro("DefaultProbability", "percent"),
        _ro("ForecastCategoryName", "string", length=40),
        _ro("IsActive", "boolean"),
        _ro("IsClosed", "boolean"),
        _ro("IsWon", "boolean"),
        _ro("SortOrder", "int"),
    )


TEAM_ROLES = (
    "Account Manager",
    "Channel Manager",
    "Executive Sponsor",
    "Lead Qualifier",
    "Pre-Sales Consultant",
    "Sales Manager",
    "Sales Rep",
)


def _user() -> ObjectDef:
    """Users exist through the control API only (the integration user may not create them)."""
    user = ObjectDef("User", "005", createable=False)
    user.add(
        *_audit(),
        _ro("Username", "string", length=80),
        _ro("Name", "string", length=121),
        _ro("FirstName", "string", length=40),
        _ro("LastName", "string", length=80),
        _ro("Email", "email", length=128),
        _ro("Phone", "phone", length=40),
        _ro("IsActive", "boolean"),
    )
    return user


def _opportunity_team_member() -> ObjectDef:
    """OpportunityTeamMember (`00q`), present only with Opportunity Teams enabled (spec §4.6)."""
    member = ObjectDef("OpportunityTeamMember", "00q", requires="opportunity_teams")
    member.add(
        *_audit(),
        FieldDef(
            "OpportunityId",
            "reference",
            18,
            required=True,
            updateable=False,
            reference_to="Opportunity",
            relationship_name="Opportunity",
        ),
        FieldDef(
            "UserId",
            "reference",
            18,
            required=True,
            updateable=False,
            reference_to="User",
            relationship_name="User",
        ),
        FieldDef("TeamMemberRole", "picklist", 40, picklist=TEAM_ROLES),
        FieldDef(
            "OpportunityAccessLevel",
            "picklist",
            40,
            picklist=("Read", "Edit"),
            restricted=True,
            default="Read",
        ),
        _ro("Name", "string", length=121),
    )
    return member


def _standard_objects() -> dict[str, ObjectDef]:
    opp, account, contact = _opportunity(), _account(), _contact()
    user = _user()
    objects = [
        opp,
        account,
        contact,
        _contact_role(),
        _opportunity_team_member(),
        *_content_objects(),
        _opportunity_stage(),
        user,
        _record_type(),
    ]
    opp.children["opportunitycontactroles"] = ChildRelationship(
        "OpportunityContactRoles", "OpportunityContactRole", "OpportunityId"
    )
    opp.children["opportunityteammembers"] = ChildRelationship(
        "OpportunityTeamMembers", "OpportunityTeamMember", "OpportunityId"
    )
    opp.children["contentdocumentlinks"] = ChildRelationship(
        "ContentDocumentLinks", "ContentDocumentLink", "LinkedEntityId"
    )
    account.children["contacts"] = ChildRelationship("Contacts", "Contact", "AccountId")
    account.children["opportunities"] = ChildRelationship("Opportunities", "Opportunity", "AccountId")
    return {o.name.lower(): o for o in objects}


_XSD_TYPES = {
    "Checkbox": "boolean",
    "Text": "string",
    "Url": "url",
    "MultiselectPicklist": "multipicklist",
    "Picklist": "picklist",
    "LongTextArea": "textarea",
    "TextArea": "textarea",
    "MasterDetail": "reference",
    "Lookup": "reference",
    "Number": "double",
    "Currency": "currency",
    "Date": "date",
    "DateTime": "datetime",
    "Email": "email",
    "Phone": "phone",
    "Percent": "percent",
}


def _text(el: ET.Element, tag: str) -> str | None:
    found = el.find(MD_NS + tag)
    return found.text if found is not None else None


def parse_field_xml(path: Path) -> FieldDef:
    """A `CustomField` source file as a `FieldDef` (what describe would report after a deploy)."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own repository files
    name = _text(root, "fullName") or path.name.split(".")[0]
    kind = _text(root, "type") or "Text"
    values = tuple(_text(v, "fullName") or "" for v in root.iter(MD_NS + "value"))
    default_value: object = None
    for value in root.iter(MD_NS + "value"):
        if _text(value, "default") == "true":
            default_value = _text(value, "fullName")
    if kind == "Checkbox":
        default_value = (_text(root, "defaultValue") or "false") == "true"
    value_set = root.find(MD_NS + "valueSet")
    restricted = value_set is not None and _text(value_set, "restricted") == "true"
    length = int(_text(root, "length") or 0)
    if kind == "Url":
        length = 255
    return FieldDef(
        name,
        _XSD_TYPES.get(kind, "string"),
        length=length,
        required=kind == "MasterDetail" or _text(root, "required") == "true",
        updateable=not (kind == "MasterDetail" and _text(root, "reparentableMasterDetail") != "true"),
        picklist=values if kind in ("Picklist", "MultiselectPicklist") else (),
        restricted=restricted,
        default=default_value,
        external_id=_text(root, "externalId") == "true",
        unique=_text(root, "unique") == "true",
        reference_to=_text(root, "referenceTo"),
        relationship_name=name[:-3] + "__r" if kind in ("MasterDetail", "Lookup") else None,
        child_relationship=(_text(root, "relationshipName") or "") + "__r"
        if kind in ("MasterDetail", "Lookup")
        else None,
    )


def load_schema(metadata_dir: Path = METADATA_DIR) -> dict[str, ObjectDef]:
    """Standard objects plus every custom field/object found in the SFDX source tree."""
    objects = _standard_objects()
    prefixes = iter(f"a0{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for obj_dir in sorted((metadata_dir / "objects").iterdir()):
        key = obj_dir.name.lower()
        if key not in objects:
            obj = ObjectDef(obj_dir.name, next(prefixes))
            obj.add(
                *_audit(),
                FieldDef("Name", "string", 80),
                FieldDef("OwnerId", "reference", 18, reference_to="User", relationship_name="Owner"),
            )
            objects[key] = obj
        for path in sorted((obj_dir / "fields").glob("*.field-meta.xml")):
            fdef = parse_field_xml(path)
            objects[key].add(fdef)
            if fdef.reference_to and fdef.child_relationship:
                parent = objects[fdef.reference_to.lower()]
                parent.children[fdef.child_relationship.lower()] = ChildRelationship(
                    fdef.child_relationship, obj_dir.name, fdef.name
                )
    return objects
