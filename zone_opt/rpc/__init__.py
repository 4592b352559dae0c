"""The wire layer shared by the client and the server (below both, importing neither).

- :mod:`~zone_opt.rpc.status`: the one table from :mod:`zone_opt.errors` classes to gRPC
  status codes, both directions;
- :mod:`~zone_opt.rpc.enums`: every proto enum <-> domain name map;
- :mod:`~zone_opt.rpc.ipc`: Arrow IPC streams on the wire (encoding, chunking, and the
  decoder that validates every record batch before anything uses it);
- :mod:`~zone_opt.rpc.checksums`: the transfer checksums of datasets;
- :mod:`~zone_opt.rpc.upload`: the upload messages, encoded and parsed without copying;
- :mod:`~zone_opt.rpc.join`: private-join messages, policies and the receiving party's run;
- :mod:`~zone_opt.rpc.channel`: channels and their TLS settings.
"""
