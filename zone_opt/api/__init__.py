"""Generated protobuf code of the zone-opt gRPC API (never edited; see grpc/README.md)."""
