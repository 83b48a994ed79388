#!/bin/bash
cd /tmp/lhb
/work/wt-watch/target/debug/leakhound --config c.yaml --log-level info watch 2>err.txt &
PID=$!
sleep 2
START=$(date +%s.%N)
python3 - <<'PY'
import os
for d in range(100):
    os.makedirs(f"/tmp/lhb/root/d{d:03}", exist_ok=True)
for i in range(100000):
    with open(f"/tmp/lhb/root/d{i%100:03}/f{i}.txt","w") as f:
        f.write(f"n{i}: card 5500 0000 0000 0004\n")
PY
echo "created in $(echo "$(date +%s.%N) - $START" | bc) s"
while true; do
  n=$(grep -o '"files_scanned": [0-9]*' state/status.json | grep -o '[0-9]*$')
  [ "$n" -ge 100000 ] 2>/dev/null && break
  sleep 1
done
echo "all scanned after $(echo "$(date +%s.%N) - $START" | bc) s"
grep -E "VmHWM|VmRSS" /proc/$PID/status
grep -o '"rescans": [0-9]*\|"files_scanned": [0-9]*\|"findings": [0-9]*\|"files_unchanged": [0-9]*' state/status.json
kill -TERM $PID; wait $PID; echo "exit $?"
echo "finding events: $(grep -c '"type":"finding"' events.jsonl), distinct paths: $(grep -o '"path":"[^"]*"' events.jsonl | sort -u | wc -l)"
tail -3 err.txt
