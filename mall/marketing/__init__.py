"""Site-wide marketing (P-08): platform-funded coupons the buyer applies at checkout."""
