"""Catalog search: what a query asks for (`hints`: prices, roasts, places, hours) and the
retriever that finds products, shops and document passages by vector and re-ranks them
(`retrieval`)."""
