"""Catalog search: the catalog's words from its profile (`lexicon`, `view`), what a query asks
for read against them (`understand`, `measures`, `when`), and the retriever that finds
products, shops and document passages by vector and words and ranks them (`retrieval`, `rank`).
"""
