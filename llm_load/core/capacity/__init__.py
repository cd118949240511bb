"""The capacity search (`llm-load capacity`), pure: its spec, statistics, step data and search.

`spec` (the scenario's `capacity:` block and the SLO conditions), `stats` (the binomial rule
a step passes or fails by), `steps` (per-step data keyed by send time, mergeable), `search`
(which load to try next), `run` (a step's settle / measure / drain / decide cycle) and `text`
(the console lines). No clocks: callers pass the time in.
"""
