// The overview: policy and mode, tasks by state (PAUSED highlighted), latency
// percentiles, throughput.
function render(d, prev) {
  const o = d["/api/v1/overview"];
  const p = prev && prev.data["/api/v1/overview"];
  // Per second since the last refresh, or since the UI started on the first render.
  const rate = (f) => (p ? Math.max(0, f(o) - f(p)) / Math.max(prev.seconds, 1e-3) : f(o) / Math.max(o.uptime, 1e-3));
  const read = (x) => x.recordsRead.stream + x.recordsRead.batch;
  const lat = (name, h) => [
    esc(name), num(h.count), dur(h.p50), dur(h.p90), dur(h.p99), dur(h.p999), dur(h.max), dur(h.mean),
  ];
  const cls = (name, c) => {
    const t = o.tasksByClass[c];
    return [
      classBadge(name), num(t.running), `<b class="paused">${num(t.paused)}</b>`,
      num(o.tasksSucceeded[c]), num(o.tasksFailed[c]), num(o.tasksKilled[c]),
      num(o.jobsActive[c]), num(o.jobsSucceeded[c]), num(o.jobsFailed[c]),
      num(o.recordsRead[c]), num(rate((x) => x.recordsRead[c])), dur(o.wastedSeconds[c]),
    ];
  };
  $("#app").innerHTML = `
<section class="cards">
  <div class="card"><h3>Policy</h3><div class="big" id="policy">${esc(o.policy)}</div>
    <div class="sub">mode <b id="mode">${esc(o.mode)}</b> · ${num(o.policySwitches)} switches</div></div>
  <div class="card"><h3>Deploy</h3><div class="big">${esc(o.deploy)}</div>
    <div class="sub">${num(o.executors)} executors · ${num(o.slots)} slots · placement ${esc(o.placement)}</div></div>
  <div class="card"><h3>Tasks running</h3><div class="big" id="running-count">${num(o.tasks.running)}</div>
    <div class="sub">${num(o.liveRuntimeTasks)} runtime tasks alive</div></div>
  <div class="card paused ${o.tasks.paused > 0 ? "hot" : ""}"><h3>PAUSED tasks</h3>
    <div class="big" id="paused-count">${num(o.tasks.paused)}</div>
    <div class="sub">${num(o.suspensions)} suspensions · ${num(o.resumes)} resumes · ${num(o.suspendedTasks)} parked now</div></div>
  <div class="card"><h3>Throughput</h3><div class="big">${num(rate(read))}</div>
    <div class="sub">records read per second (${num(read(o))} in all)</div></div>
  <div class="card"><h3>Stream latency p99</h3><div class="big">${dur(o.streamLatency.p99)}</div>
    <div class="sub">p50 ${dur(o.streamLatency.p50)} · max ${dur(o.streamLatency.max)}</div></div>
</section>
<h2>Latency</h2>
${table(
  ["", ["count", "num"], ["p50", "num"], ["p90", "num"], ["p99", "num"], ["p99.9", "num"], ["max", "num"], ["mean", "num"]],
  [lat("Stream latency", o.streamLatency), lat("Pause → park", o.pauseToPark), lat("Resume → poll", o.resumeToPoll)],
  "no latency recorded",
)}
<p class="note">Stream latency: from a Stream task becoming runnable to the end of the poll that ran it. Pause → park: from a pause request to the task parked. Resume → poll: from a resume to the task's next poll.</p>
<h2>Tasks and jobs by class</h2>
${table(
  ["class", ["running", "num"], ["PAUSED", "num"], ["succeeded", "num"], ["failed", "num"], ["killed", "num"],
   ["jobs active", "num"], ["jobs done", "num"], ["jobs failed", "num"], ["records read", "num"], ["records/s", "num"], ["wasted", "num"]],
  [cls("Stream", "stream"), cls("Batch", "batch")],
  "",
)}
<p class="note">Up ${dur(o.uptime)} since ${esc(o.startTime)}. Wasted: time of task attempts that failed or were killed.</p>`;
}
