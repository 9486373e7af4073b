// Executors and their slots (local mode), or every executor from its heartbeats
// (cluster mode).
function render(d) {
  const executors = d["/api/v1/executors"];
  const bar = (run, paused, max) => {
    const w = (n) => (max > 0 ? Math.min(100, (100 * n) / max) : 0);
    return `<span class="bar"><i class="run" style="width:${w(run)}%"></i><i class="pause" style="width:${w(paused)}%"></i></span>`;
  };
  const rows = executors.map((e) => [
    esc(e.id), esc(e.hostPort), esc(e.policy ?? "–"), esc(e.mode ?? "–"), num(e.totalCores),
    `${bar(e.activeTasks - e.pausedTasks, e.pausedTasks, Math.max(e.activeTasks, e.totalCores))} ${num(e.activeTasks)}`,
    `<b class="paused">${num(e.pausedTasks)}</b>`, num(e.suspendedTasks), num(e.completedTasks), num(e.failedTasks),
    num(e.killedTasks), ms(e.totalDuration), num(e.memoryUsed),
    e.heartbeats === null ? "–" : `${num(e.heartbeats)} (${dur(e.lastHeartbeatAge)} ago)`,
  ]);
  const slots = executors
    .filter((e) => e.slots.length > 0)
    .map(
      (e) => `<h2>${esc(e.id)}: slots</h2>` +
        table(
          [["slot", "num"], "dataflow tasks", ["PAUSED", "num"], ["polls", "num"], ["stream tasks done", "num"],
           ["batch tasks done", "num"], ["suspensions", "num"], ["resumes", "num"], ["parked now", "num"],
           ["parked bytes", "num"], ["stream busy", "num"], ["idle", "num"], ["steals", "num"]],
          e.slots.map((s) => [
            num(s.slot), `${bar(s.runningTasks, s.pausedTasks, Math.max(1, s.runningTasks + s.pausedTasks))} ${num(s.runningTasks + s.pausedTasks)}`,
            `<b class="paused">${num(s.pausedTasks)}</b>`, num(s.polls), num(s.tasksFinished.stream),
            num(s.tasksFinished.batch), num(s.suspensions), num(s.resumes), num(s.suspendedTasks),
            num(s.suspendedBytes), dur(s.streamBusy), dur(s.idle), num(s.steals),
          ]),
          "no slot",
          (i) => (e.slots[i].pausedTasks > 0 ? "paused" : ""),
        ),
    )
    .join("");
  $("#app").innerHTML = `
<h2>Executors (${num(executors.length)})</h2>
${table(["id", "host", "policy", "mode", ["slots", "num"], "active tasks", ["PAUSED", "num"], ["parked", "num"],
  ["completed", "num"], ["failed", "num"], ["killed", "num"], ["task time", "num"], ["memory bytes", "num"], "heartbeats"],
  rows, "no executor", (i) => (executors[i].pausedTasks > 0 ? "paused" : ""))}
${slots}
<p class="note">Local mode: memory is the shuffle bytes an executor holds. Cluster mode: figures come from each executor's last heartbeat; slots are not reported one by one.</p>`;
}
