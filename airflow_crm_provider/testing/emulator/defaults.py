"""The emulator's default world: credentials, the current user, modules, fields and seeded records."""

from __future__ import annotations

import random
from typing import Any

CLIENT_ID = "1000.EMULATORCLIENTID"
CLIENT_SECRET = "emulator-client-secret-5f1c2e"  # noqa: S105 (the emulator's public test credential)
REFRESH_TOKEN = "1000.emulator-refresh-token.9d3a7b"  # noqa: S105
#: A self-client grant code; it can be exchanged once per reset.
EMULATOR_GRANT_CODE = "1000.emulator-grant-code.42"

#: The user behind every token, as the seed shows it in ``Modified_By``/``Created_By``.
CURRENT_USER: dict[str, str] = {"name": "Patricia Boyle", "id": "738964000000291009"}
CURRENT_USER_EMAIL = "patricia.boyle@example.com"

#: The seed's record ids.
SEED_IDS = ("738964000002131001", "738964000002130131")
NOT_APPROVED_ID = "1306462000000496025"
LOCKED_ID = "475243000003269880"
#: ``details.action`` of RECORD_LOCKED, as recorded.
LOCK_ACTION = "zia_vision_processing"

#: Custom view holding the normal seeded Leads, an empty one, and a territory over some of them.
LEADS_VIEW_ID = "738964000000087501"
EMPTY_VIEW_ID = "738964000000087502"
TERRITORY_ID = "738964000000111111"

GENERATED_LEADS = 20
GENERATED_OTHERS = 5
#: First id handed out to generated records and jobs (18-digit strings, like Zoho's).
FIRST_GENERATED_ID = 738964000004000001
FIRST_JOB_ID = 738964000005000001

#: Field types Zoho refuses in a mass update (Email, lookup, multi-line).
NOT_MASS_UPDATABLE_TYPES = frozenset({"email", "lookup", "textarea"})
DEFAULT_MAX_FIELDS = 1
MAX_FIELDS = {"Deals": 3}
#: Fields a record cannot be without (Zoho's ``system_mandatory``): an insert needs them, an update
#: cannot clear them.
MANDATORY_FIELDS = frozenset({"Last_Name", "Deal_Name", "Account_Name"})
#: Module -> its system-defined duplicate check field (Zoho's Upsert Records page, Kaizen #56).
DUPLICATE_CHECK_FIELDS = {
    "Leads": "Email",
    "Contacts": "Email",
    "Accounts": "Account_Name",
    "Deals": "Deal_Name",
}

#: Module -> field api name -> (data type, mass-updatable).
MODULE_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "Leads": {
        "Last_Name": ("text", False),
        "Company": ("text", False),
        "Email": ("email", False),
        "No_of_Employees": ("integer", True),
        "Lead_Status": ("picklist", True),
        "Lead_Source": ("picklist", True),
        "Rating": ("picklist", True),
        "Industry": ("picklist", True),
        "Annual_Revenue": ("currency", True),
        "City": ("text", True),
        "Country": ("text", True),
        "Description": ("textarea", False),
        "Owner": ("lookup", False),
        "Product_Interest": ("multiselectpicklist", True),
    },
    "Contacts": {
        "Last_Name": ("text", False),
        "Email": ("email", False),
        "Lead_Source": ("picklist", True),
        "Department": ("text", True),
        "Mailing_City": ("text", True),
        "Description": ("textarea", False),
        "Owner": ("lookup", False),
    },
    "Accounts": {
        "Account_Name": ("text", False),
        "Industry": ("picklist", True),
        "Employees": ("integer", True),
        "Annual_Revenue": ("currency", True),
        "Rating": ("picklist", True),
        "Billing_City": ("text", True),
        "Description": ("textarea", False),
        "Owner": ("lookup", False),
    },
    "Deals": {
        "Deal_Name": ("text", False),
        "Stage": ("picklist", True),
        "Amount": ("currency", True),
        "Probability": ("integer", True),
        "Closing_Date": ("date", True),
        "Type": ("picklist", True),
        "Lead_Source": ("picklist", True),
        "Competitors": ("multiselectpicklist", True),
        "Description": ("textarea", False),
        "Owner": ("lookup", False),
    },
}

_PICKS: dict[str, list[str]] = {
    "Lead_Status": [
        "Not Contacted",
        "Attempted to Contact",
        "Contact in Future",
        "Contacted",
        "Pre-Qualified",
        "Not Qualified",
        "Junk Lead",
        "Lost Lead",
    ],
    "Lead_Source": [
        "Advertisement",
        "Chat",
        "Cold Call",
        "Employee Referral",
        "External Referral",
        "Online Store",
        "Partner",
        "Public Relations",
        "Seminar Partner",
        "Trade Show",
        "Web Download",
        "Web Research",
    ],
    "Rating": ["Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down"],
    "Industry": [
        "ASP",
        "Data/Telecom OEM",
        "ERP",
        "Government/Military",
        "Large Enterprise",
        "ManagementISV",
        "MSP (Management Service Provider)",
        "Network Equipment Enterprise",
        "Non-management ISV",
        "Optical Networking",
        "Service Provider",
        "Small/Medium Enterprise",
        "Storage Equipment",
        "Storage Service Provider",
        "Systems Integrator",
        "Wireless Industry",
    ],
    "Stage": ["Qualification", "Needs Analysis", "Proposal/Price Quote", "Closed Won", "Closed Lost"],
    "Type": ["Existing Business", "New Business"],
}
_MULTI = ["CRM", "Analytics", "Mail", "Desk", "Books"]
_NAMES = ["Boyle", "Nakamura", "Okafor", "Schmidt", "Rossi", "Silva", "Kowalski", "Dubois", "Larsen", "Patel"]
_CITIES = ["Austin", "Chennai", "Berlin", "Osaka", "Lyon", "Porto", "Krakow", "Leeds", "Oslo", "Dublin"]
_COUNTRIES = ["USA", "India", "Germany", "Japan", "France", "Portugal", "Poland", "UK", "Norway", "Ireland"]
_CREATED = "2021-05-07T06:23:10+00:00"


def picklist_values(api_name: str, data_type: str) -> list[str]:
    """
    Return the values a picklist (or multi-select picklist) field offers.

    :param api_name: the field's api name.
    :param data_type: ``picklist`` or ``multiselectpicklist``.
    """
    if data_type == "multiselectpicklist":
        return list(_MULTI)
    return list(_PICKS.get(api_name, ["Option 1", "Option 2"]))


def field_value(api_name: str, data_type: str, rng: random.Random, n: int) -> Any:
    """
    Return a plausible value for one field of a generated record.

    :param api_name: the field's api name.
    :param data_type: the field's Zoho data type.
    :param rng: random source (seeded per record, so records are the same after every reset).
    :param n: the record's ordinal, used to make names unique.
    """
    if data_type == "picklist":
        return rng.choice(_PICKS.get(api_name, ["Option 1", "Option 2"]))
    if data_type == "multiselectpicklist":
        return sorted(rng.sample(_MULTI, 2), key=_MULTI.index)
    if data_type == "integer":
        return rng.randrange(1, 100) if api_name == "Probability" else rng.randrange(5, 5000)
    if data_type == "currency":
        return float(rng.randrange(10, 5000) * 1000)
    if data_type == "email":
        return f"contact{n}@example.com"
    if data_type == "lookup":
        return {"name": CURRENT_USER["name"], "id": CURRENT_USER["id"], "email": CURRENT_USER_EMAIL}
    if data_type == "textarea":
        return f"Generated record {n} of the Zoho CRM emulator."
    if data_type == "date":
        return f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if "City" in api_name:
        return _CITIES[n % len(_CITIES)]
    if api_name == "Country":
        return _COUNTRIES[n % len(_COUNTRIES)]
    if api_name == "Last_Name":
        return _NAMES[n % len(_NAMES)]
    return f"{_NAMES[n % len(_NAMES)]} {api_name.replace('_', ' ')} {n}"


def make_record(module: str, record_id: str, n: int, created: str = _CREATED) -> dict[str, Any]:
    """
    Build one record of ``module`` with every defined field filled in.

    :param module: module api name (fields unknown to the module are not set).
    :param record_id: the record id (a numeric string).
    :param n: the record's ordinal, used to make names unique.
    :param created: ``Created_Time`` (and first ``Modified_Time``) as ISO-8601.
    """
    rng = random.Random(f"{module}:{record_id}")
    record: dict[str, Any] = {"id": record_id}
    for api_name, (data_type, _) in MODULE_FIELDS.get(module, {}).items():
        record[api_name] = field_value(api_name, data_type, rng, n)
    record.update(
        Created_Time=created,
        Created_By=dict(CURRENT_USER),
        Modified_Time=created,
        Modified_By=dict(CURRENT_USER),
    )
    return record


#: The seed's records with their recorded ``Created_Time``.
SEED_RECORDS: dict[str, str] = {
    SEED_IDS[0]: "2021-05-07T06:23:10+00:00",
    SEED_IDS[1]: "2021-05-07T06:38:15+00:00",
    NOT_APPROVED_ID: "2021-10-05T17:50:02+05:30",
    LOCKED_ID: "2021-10-05T18:01:44+05:30",
}
