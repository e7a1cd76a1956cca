"""Environment of a service spawned by a benchmark that plays one customer at full speed."""

UNLIMITED = {"DELIVERY_RATE_LIMIT_ENABLED": "false", "DELIVERY_ORDERS_MAX_UNPAID": "1000000",
             "DELIVERY_ONBOARDING_AUTO_APPROVE": "true", "DELIVERY_ADMISSION_ENABLED": "false"}
"""No rate limit, no practical cap on unpaid orders (issue 12 item 7 limits one customer), no
admission control (32 clients placing orders back to back are an overload it refuses: the
refusals would be counted as the path's answers), and stores and riders approved at once: the
benchmark measures the service, not its guards."""
