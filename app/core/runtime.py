"""Process-wide settings a server applies once it has started (see the lifespan in app.main)."""

import gc

# Net container allocations between two young-generation collections (CPython's default: 700).
# A request allocates hundreds of short-lived objects, most freed by reference counting; at 700
# the collector ran every couple of requests and promoted whatever was in flight, so older
# generations filled and were walked again and again, a visible share of GET /posts' time in
# `make bench`. Objects in reference cycles live a little longer before they are found.
GC_YOUNG_THRESHOLD = 20_000

_settled = False


def settle_gc() -> None:
    """Freeze what startup built (modules, routes, models, schemas: objects that live as long as
    the process) out of the collector's sight, and collect less often.

    Once per process: freezing again would pin whatever exists at that moment, such as the
    objects of a test that started another app.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
