"""The catalog: platform taxonomy (categories, brands, tags), each store's products, SKUs and stock,
the review gate, and the public catalog copy that browsing and search read."""
