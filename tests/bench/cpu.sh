# tests/bench/cpu.sh - sourced by run.sh and floor.sh: the CPU processes used so far, in
# clock ticks, read from /proc.

# ticks PID: the process's own CPU and what its exited, reaped children used (0 if gone)
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# pg_postmaster CONNINFO: the pid of the postmaster of the server CONNINFO reaches (the
# parent of its checkpointer)
pg_postmaster() {
  local checkpointer
  checkpointer=$(psql "$1" -XAtq -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
  awk '{print $4}' "/proc/$checkpointer/stat"
}

# pg_ticks POSTMASTER: PostgreSQL's CPU, its postmaster's and live processes' own and
# what its exited processes (backends, autovacuum workers) used
pg_ticks() {
  local sum p
  sum=$(ticks "$1")
  for p in $(pgrep -P "$1"); do sum=$((sum + $(ticks "$p"))); done
  echo "$sum"
}
