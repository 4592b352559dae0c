"""Transport: what every call passes through before and after its servicer (interceptor,
authentication, admission and compute slots, request checks at the edge, metrics, the
allocator settings of the serving process, and the join peers the server may dial)."""
