#!/usr/bin/env python3
"""Cycle times of a workflow's ended runs, from the gateway's own records (run start to run end:
start, subscribe, callback, resume, run end). Waits until COUNT runs ended. Read-only beside the
gateway (a WAL reader does not block it). Usage: cycle.py DATABASE WORKFLOW COUNT"""
import sqlite3
import sys
import time

database, workflow, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
query = "SELECT status, (ended_at - created_at) * 1000, created_at, ended_at FROM run WHERE workflow = ? AND ended_at IS NOT NULL"
deadline = time.monotonic() + 600
while True:
    rows = db.execute(query, (workflow,)).fetchall()
    if len(rows) >= count or time.monotonic() > deadline:
        break
    time.sleep(0.5)
succeeded = sorted(row[1] for row in rows if row[0] == "Succeeded")
if not succeeded:
    sys.exit("no run succeeded")
def percentile(p):
    return succeeded[min(len(succeeded) - 1, int(len(succeeded) * p / 100))]
span = max(row[3] for row in rows) - min(row[2] for row in rows)
print(f"{len(succeeded)} of {len(rows)} ended runs succeeded; cycle p50 {percentile(50):.1f} ms, "
      f"p90 {percentile(90):.1f} ms, p99 {percentile(99):.1f} ms, max {succeeded[-1]:.1f} ms; "
      f"{len(rows) / span:.0f} runs/s from first start to last end")
