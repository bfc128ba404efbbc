"""SWE-bench at scale: `swescale bench run` (concurrent, kill-safe, SQLite state, local or Ray) and
`swescale bench report`."""
