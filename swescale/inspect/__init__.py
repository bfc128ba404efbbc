"""`swescale inspect`: a run directory (solve or bench) as one self-contained HTML page a person reads
(decision, candidates, verifier matrix, every trajectory step by step), a live view (`serve`), and
exports of the trajectories to mini-swe-agent's and SWE-agent's formats (`export`)."""
