"""cosell-sync: two-way sync of Partner Center co-sell referrals and Salesforce opportunities."""
