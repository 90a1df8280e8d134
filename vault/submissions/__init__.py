"""Anonymous submissions (docs/submissions.md): proof of work, staged uploads in chunks,
completion into records and their log entries, and a source's way back with its lookup
secret. `service.Submissions` is what the API holds; `pow` keeps the proof-of-work key.
"""
