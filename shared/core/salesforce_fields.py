"""Salesforce API names of the connector's custom fields and object (one table, so a namespaced
install only changes this file). They match `salesforce-metadata/`; a test checks both agree."""

from __future__ import annotations

from typing import Final

OPPORTUNITY: Final = "Opportunity"
ACCOUNT: Final = "Account"
CONTACT: Final = "Contact"
CONTACT_ROLE: Final = "OpportunityContactRole"
SOLUTION: Final = "Partner_Center_Solution__c"

SYNC: Final = "Sync_With_Partner_Center__c"  # Checkbox, default false
REFERRAL_ID: Final = "Referral_Id__c"  # Text(100), External ID, Unique
REFERRAL_LINK: Final = "Referral_Link__c"  # Url
HELP: Final = "How_Can_Microsoft_Help__c"  # MultiselectPicklist (assistance request codes)
VISIBILITY: Final = "Referral_Visibility__c"  # Picklist: Visible | Hidden
MSFT_CRM_ID: Final = "Microsoft_CRM_Identifier__c"  # Text(255), External ID
AUDIT: Final = "Partner_Center_Audit__c"  # LongTextArea(131072)
REFERRAL_STATUS: Final = "Referral_Status__c"  # Text(40): Partner Center status/substatus, read-only

# Partner_Center_Solution__c fields
SOLUTION_OPPORTUNITY: Final = "Opportunity__c"  # MasterDetail(Opportunity)
SOLUTION_ID: Final = "Solution_Id__c"  # Text(100): the Partner Center solution id (SOL-...)
SOLUTION_NAME: Final = "Solution_Name__c"  # Text(255)
SOLUTION_PUBLISHER: Final = "Publisher_Name__c"  # Text(255)
SOLUTION_TYPE: Final = "Solution_Type__c"  # Text(20): 3P / 1P
SOLUTIONS_RELATIONSHIP: Final = "Partner_Center_Solutions__r"

VISIBLE: Final = "Visible"
HIDDEN: Final = "Hidden"

OPPORTUNITY_FIELDS: Final = (
    SYNC,
    REFERRAL_ID,
    REFERRAL_LINK,
    HELP,
    VISIBILITY,
    MSFT_CRM_ID,
    AUDIT,
    REFERRAL_STATUS,
)
"""The connector's custom fields on Opportunity."""
