"""Waits until a workflow has COUNT ended runs holding COUNT events in all, then prints how fast
events became runs: from the first run's start to the last one's start (runs started per second,
the OnEvents delivery rate), and to the last one's end.
   python3 runs.py DATABASE WORKFLOW EVENTS"""
import json, sqlite3, sys, time

database, workflow, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.time() + 600
while True:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    rows = db.execute("SELECT created_at, ended_at, status, trigger_outputs FROM run WHERE workflow = ?", (workflow,)).fetchall()
    db.close()
    seen = 0
    for _, _, _, outputs in rows:
        body = json.loads(outputs).get("body")
        seen += len(body) if isinstance(body, list) else 1
    ended = [r for r in rows if r[1] is not None]
    if seen >= events and len(ended) == len(rows):
        break
    if time.time() > deadline:
        sys.exit(f"only {seen} of {events} events became runs ({len(ended)} of {len(rows)} runs ended)")
    time.sleep(0.5)
first = min(r[0] for r in rows)
last_start = max(r[0] for r in rows)
last_end = max(r[1] for r in rows)
failed = sum(1 for r in rows if r[2] != "Succeeded")
print(f"{seen} events in {len(rows)} runs ({failed} not Succeeded): started over {last_start - first:.1f} s "
      f"= {seen / max(last_start - first, 1e-9):.0f} events/s turned into runs; all ended after {last_end - first:.1f} s "
      f"= {len(rows) / max(last_end - first, 1e-9):.0f} runs/s completed")
