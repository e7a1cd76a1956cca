"""Environment of a service spawned by a benchmark that plays one customer at full speed."""

UNLIMITED = {"DELIVERY_RATE_LIMIT_ENABLED": "false", "DELIVERY_ORDERS_MAX_UNPAID": "1000000"}
"""No rate limit and no practical cap on unpaid orders (issue 12 item 7 limits one customer)."""
