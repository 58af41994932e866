"""Posts: drafts, ownership, the public list, covers."""
