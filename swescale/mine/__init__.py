"""Task mining: a repository's history into validated SWE-bench-format tasks (`swescale env mine`)."""
