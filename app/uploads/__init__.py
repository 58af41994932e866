"""Everything a file goes through: multipart reading, type detection, re-encoding, storage, rows."""
