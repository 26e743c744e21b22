"""Money beyond the ledger core (P-07, M-10): commission rules, settlement, withdrawals and payouts,
deposits, reconciliation and finance reports."""
