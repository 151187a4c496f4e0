"""The market API: the ``MarketApi`` port, its two adapters (native, lowcode), the query language, JSON <-> core."""
