"""Jobs: the worker pool that runs operations from the job store, with leases,
heartbeats, checkpoints and cancellation."""
