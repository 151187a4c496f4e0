"""The market API: the ``MarketApi`` port, its two adapters (native, lowcode), the query language, JSON <-> core.

Import the pieces from their modules: ``vastbid.vast.port`` (the port), ``vastbid.vast.factory``
(``make_market_api``), ``vastbid.vast.native``, ``vastbid.vast.lowcode``, ``vastbid.vast.query``
(``parse_query``, ``compile_query``), ``vastbid.vast.convert`` and ``vastbid.vast.models``.
"""
