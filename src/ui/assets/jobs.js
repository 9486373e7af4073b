// Jobs, their stages, and the tasks running now (paused ones highlighted).
const SHOWN_JOBS = 50;

function render(d) {
  const jobs = d["/api/v1/jobs"].slice().reverse();
  const shown = jobs.filter((j, i) => j.status === "RUNNING" || i < SHOWN_JOBS);
  const ids = new Set(shown.map((j) => j.jobId));
  const stages = d["/api/v1/stages"].filter((s) => ids.has(s.jobId)).reverse();
  const tasks = d["/api/v1/tasks"];
  const active = tasks.filter((t) => t.status === "RUNNING" || t.status === "PAUSED");
  const pausedBefore = tasks.filter((t) => t.status !== "RUNNING" && t.status !== "PAUSED" && t.suspensions > 0).slice(-20).reverse();
  const taskCounts = (x, total) =>
    `${num(x.numActiveTasks - x.numPausedTasks)} / <b class="paused">${num(x.numPausedTasks)}</b> / ${num(x.numCompletedTasks ?? x.numCompleteTasks)} of ${num(total)}`;
  const jobRows = shown.map((j) => [
    num(j.jobId), `<span class="name">${esc(j.name)}</span>`, classBadge(j.class), stateBadge(j.status),
    esc(j.submissionTime), ms(j.duration), `${num(j.numCompletedStages)} / ${num(j.stageIds.length)}`,
    taskCounts(j, j.numTasks), num(j.numFailedTasks + j.numKilledTasks), num(j.suspensions),
  ]);
  const stageRows = stages.map((s) => [
    `${num(s.jobId)}.${num(s.stageId)}`, `<span class="name">${esc(s.name)}</span>`, esc(s.kind), classBadge(s.class),
    stateBadge(s.status), taskCounts(s, s.numTasks), num(s.inputRecords), num(s.outputRecords), num(s.suspensions),
  ]);
  const taskRow = (t) => [
    esc(t.taskId), num(t.attempt), esc(t.executorId), t.slot === null ? "–" : num(t.slot), classBadge(t.class),
    stateBadge(t.status), esc(t.launchTime), ms(t.duration), num(t.suspensions),
    t.pausedTime === null ? "–" : ms(t.pausedTime),
  ];
  const taskHeaders = ["task", ["attempt", "num"], "executor", ["slot", "num"], "class", "status", "launched",
    ["duration", "num"], ["suspensions", "num"], ["paused time", "num"]];
  $("#app").innerHTML = `
<h2>Jobs (${num(jobs.length)} on the board, newest first)</h2>
${table(["id", "name", "class", "status", "submitted", ["duration", "num"], ["stages done", "num"],
  ["tasks running / PAUSED / done", "num"], ["failed+killed", "num"], ["suspensions", "num"]],
  jobRows, "no job yet", (i) => (shown[i].numPausedTasks > 0 ? "paused" : ""))}
<h2>Stages</h2>
${table(["job.stage", "name", "kind", "class", "status", ["tasks running / PAUSED / done", "num"],
  ["records in", "num"], ["records out", "num"], ["suspensions", "num"]],
  stageRows, "no stage yet", (i) => (stages[i].numPausedTasks > 0 ? "paused" : ""))}
<h2>Tasks running now (${num(active.length)}, ${num(active.filter((t) => t.status === "PAUSED").length)} PAUSED)</h2>
${table(taskHeaders, active.map(taskRow), "no task runs now", (i) => (active[i].status === "PAUSED" ? "paused" : ""))}
<h2>Finished tasks that were suspended (latest 20)</h2>
${table(taskHeaders, pausedBefore.map(taskRow), "none")}`;
}
