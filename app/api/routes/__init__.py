"""One router per resource: each parses, authorises through app.api.deps, calls a service and
shapes the answer."""
