"""The gRPC server of zone-opt (see server.py for the layout)."""
