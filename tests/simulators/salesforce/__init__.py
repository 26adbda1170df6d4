"""The Salesforce simulator, over real HTTP."""
