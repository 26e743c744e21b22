"""Shop decoration (M-03): themes, the draft and its modules, published versions, rendering."""
