"""Thin servicers: resolve the tenant, convert the request, call the store or the pool."""
