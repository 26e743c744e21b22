"""Trading: the address book, the cart across stores, checkout, orders and payments (C-03, C-09…C-12)."""
