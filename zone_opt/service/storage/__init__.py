"""Storage: the SQLite database and job store (leases, fencing), the dataset store
(write-fsync-rename, checksums), and join policies with their audit log."""
