"""The gRPC server of zone-opt, in layers (``docs/architecture.md`` walks a request):

- :mod:`~zone_opt.service.transport`: what every call passes through (the interceptor:
  request ids, admission, tokens, the edge checks of :mod:`.transport.edge`, status mapping,
  metrics, access logs; compute slots; registered join peers; allocator settings);
- :mod:`~zone_opt.service.servicers`: one thin servicer per proto service, from request to
  operation and back;
- :mod:`~zone_opt.service.operations`: one module per capability (params, handler, result),
  and the registry of them;
- :mod:`~zone_opt.service.jobs`: the worker pool running operations from the job store
  (leases, fencing, checkpoints, cancellation);
- :mod:`~zone_opt.service.storage`: the SQLite job store, the dataset store, join policies
  and their audit log;
- :mod:`~zone_opt.service.server`: the composition root (settings, wiring, health).

The wire layer below (status table, enums, IPC, upload codec, join messages) is
:mod:`zone_opt.rpc`, shared with :mod:`zone_opt.client`; the service never imports the
client.
"""
