"""The double-entry ledger of the mall (DESIGN.md "Money"): accounts, immutable balanced journal
entries, and the check that proves it. Every movement of money is posted through ``post``."""
