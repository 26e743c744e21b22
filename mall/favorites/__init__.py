"""What shoppers keep: followed stores (product favorites and browsing history join with the catalog)."""
