//! `StatusBoard`: the job driver's record of jobs, stages and tasks (see the module
//! docs of [`status`](super)).

use super::{
    spark_time, ClassName, ExecutorTasks, JobState, JobStatus, StageState, StageStatus, Status,
    StatusSummary, StatusTotals, TaskState, TaskStatus,
};
use crate::exec::{StageInfo, StageKind, TaskControl};
use crate::plan::{JobId, TaskId};
use neptune_runtime::{Class, TaskState as RuntimeState};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Finished jobs a board keeps unless told otherwise.
pub(crate) const DEFAULT_RETAINED_JOBS: usize = 200;

/// A moment, on both clocks: the monotonic one for durations, the wall one to show.
#[derive(Clone, Copy)]
struct Stamp {
    at: Instant,
    wall: SystemTime,
}

impl Stamp {
    fn now() -> Stamp {
        Stamp {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// How a task attempt ended, as its job's driver saw it.
pub(crate) struct TaskEnd {
    /// Success, failed or killed.
    pub(crate) state: TaskState,
    /// Why it failed.
    pub(crate) error: Option<String>,
    /// Records read from sources and handed on (0 unless it succeeded).
    pub(crate) records: (u64, u64),
}

#[derive(Clone)]
struct StageRecord {
    info: StageInfo,
    first_launch: Option<Stamp>,
    /// Partitions that succeeded (a cluster re-run of a lost output counts again).
    succeeded: usize,
    completed: Option<Stamp>,
}

/// What a finished task leaves behind (its handle is let go).
#[derive(Clone)]
struct Ended {
    at: Stamp,
    state: TaskState,
    error: Option<String>,
    suspensions: u32,
    slot: Option<usize>,
    paused: Option<Duration>,
    records: (u64, u64),
}

struct TaskRecord {
    id: TaskId,
    /// The runtime task's id (local mode).
    runtime_id: Option<u64>,
    attempt: u32,
    executor: u32,
    launched: Stamp,
    /// The task while it runs.
    live: Option<TaskControl>,
    ended: Option<Ended>,
}

struct JobRecord {
    name: String,
    class: Class,
    submitted: Stamp,
    ended: Option<(Stamp, Option<String>)>,
    stages: Vec<StageRecord>,
    tasks: Vec<TaskRecord>,
}

#[derive(Default, Clone)]
struct ExecutorTotals {
    succeeded: u64,
    failed: u64,
    killed: u64,
    busy: Duration,
}

struct Board {
    retain: usize,
    jobs: BTreeMap<u64, JobRecord>,
    /// The jobs among `jobs` that have not ended: a summary reads only these, so its
    /// hold on the lock does not grow with the finished jobs kept.
    active: BTreeSet<u64>,
    /// Finished jobs among `jobs`.
    finished: usize,
    totals: StatusTotals,
    executors: BTreeMap<u32, ExecutorTotals>,
}

/// The record of a context's jobs, written by their drivers and read by
/// [`Context::status`](crate::Context::status).
pub(crate) struct StatusBoard {
    board: Mutex<Board>,
}

impl StatusBoard {
    /// A board that keeps the last [`DEFAULT_RETAINED_JOBS`] finished jobs.
    pub(crate) fn new() -> StatusBoard {
        StatusBoard {
            board: Mutex::new(Board {
                retain: DEFAULT_RETAINED_JOBS,
                jobs: BTreeMap::new(),
                active: BTreeSet::new(),
                finished: 0,
                totals: StatusTotals::default(),
                executors: BTreeMap::new(),
            }),
        }
    }

    /// Keeps the last `n` finished jobs from now on (0: the default).
    pub(crate) fn retain(&self, n: usize) {
        self.lock().retain = if n == 0 { DEFAULT_RETAINED_JOBS } else { n };
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A job was submitted with these stages.
    pub(crate) fn job_submitted(
        &self,
        job: JobId,
        name: String,
        class: Class,
        stages: &[StageInfo],
    ) {
        let record = JobRecord {
            name,
            class,
            submitted: Stamp::now(),
            ended: None,
            stages: stages
                .iter()
                .map(|info| StageRecord {
                    info: info.clone(),
                    first_launch: None,
                    succeeded: 0,
                    completed: None,
                })
                .collect(),
            tasks: Vec::new(),
        };
        let mut board = self.lock();
        board.totals.jobs_submitted[class.index()] += 1;
        board.jobs.insert(job.0, record);
        board.active.insert(job.0);
    }

    /// A task attempt was launched on `executor`.
    pub(crate) fn task_launched(
        &self,
        task: TaskId,
        attempt: u32,
        executor: u32,
        control: TaskControl,
    ) {
        let now = Stamp::now();
        let mut board = self.lock();
        let Some(job) = board.jobs.get_mut(&task.job.0) else {
            return;
        };
        if let Some(stage) = job.stages.iter_mut().find(|s| s.info.id == task.stage) {
            stage.first_launch.get_or_insert(now);
        }
        let runtime_id = match &control {
            TaskControl::Local(h) => Some(h.id().as_u64()),
            TaskControl::Remote(_) => None,
        };
        job.tasks.push(TaskRecord {
            id: task,
            runtime_id,
            attempt,
            executor,
            launched: now,
            live: Some(control),
            ended: None,
        });
    }

    /// The driver received a task's completion.
    pub(crate) fn task_ended(&self, task: TaskId, end: TaskEnd) {
        let now = Stamp::now();
        let mut board = self.lock();
        let Board {
            jobs,
            totals,
            executors,
            ..
        } = &mut *board;
        let Some(job) = jobs.get_mut(&task.job.0) else {
            return;
        };
        let class = job.class;
        let Some(record) = job
            .tasks
            .iter_mut()
            .rev()
            .find(|t| t.id == task && t.ended.is_none())
        else {
            return;
        };
        let end = Ended {
            at: now,
            state: end.state,
            error: end.error,
            suspensions: 0,
            slot: None,
            paused: None,
            records: end.records,
        };
        let state = end.state;
        finish(record, end, class, totals, executors);
        if state == TaskState::Success {
            if let Some(stage) = job.stages.iter_mut().find(|s| s.info.id == task.stage) {
                stage.succeeded += 1;
                if stage.succeeded >= stage.info.partitions && stage.completed.is_none() {
                    stage.completed = Some(now);
                }
            }
        }
    }

    /// A job ended (`error` says why it failed): tasks it had not heard the end of
    /// are finished as their handles say (cut short, mostly), and the oldest finished
    /// jobs leave the board beyond its bound.
    pub(crate) fn job_ended(&self, job: JobId, error: Option<String>) {
        let now = Stamp::now();
        let mut board = self.lock();
        let board = &mut *board;
        let Some(record) = board.jobs.get_mut(&job.0) else {
            return;
        };
        if record.ended.is_some() {
            return;
        }
        let class = record.class;
        for task in record.tasks.iter_mut().filter(|t| t.ended.is_none()) {
            // The job's driver cancels what still runs when the job fails; a task
            // that completed before its end was received did its work.
            let state = match task.live.as_ref().map(TaskControl::state) {
                Some(RuntimeState::Completed) => TaskState::Success,
                _ => TaskState::Killed,
            };
            let end = Ended {
                at: now,
                state,
                error: None,
                suspensions: 0,
                slot: None,
                paused: None,
                records: (0, 0),
            };
            finish(task, end, class, &mut board.totals, &mut board.executors);
        }
        let i = class.index();
        if error.is_some() {
            board.totals.jobs_failed[i] += 1;
        } else {
            board.totals.jobs_succeeded[i] += 1;
        }
        record.ended = Some((now, error));
        board.active.remove(&job.0);
        board.finished += 1;
        while board.finished > board.retain {
            let oldest = board
                .jobs
                .iter()
                .find(|(_, j)| j.ended.is_some())
                .map(|(&id, _)| id);
            match oldest {
                Some(id) => {
                    board.jobs.remove(&id);
                    board.finished -= 1;
                    board.totals.jobs_dropped += 1;
                }
                None => break,
            }
        }
    }

    /// The board's counts now: one pass over the jobs that have not ended, under the
    /// lock, no copies.
    pub(crate) fn summary(&self) -> StatusSummary {
        let board = self.lock();
        let mut summary = StatusSummary {
            totals: board.totals.clone(),
            ..StatusSummary::default()
        };
        for job in board.active.iter().filter_map(|id| board.jobs.get(id)) {
            let i = job.class.index();
            summary.active_jobs[i] += 1;
            for t in job.tasks.iter().filter(|t| t.ended.is_none()) {
                match t.live.as_ref().map(TaskControl::state) {
                    Some(RuntimeState::Paused) => summary.paused_tasks[i] += 1,
                    _ => summary.running_tasks[i] += 1,
                }
            }
        }
        summary
    }

    /// The board now. Its records are copied under the lock (the job drivers take it
    /// at every task launch and end) and formatted after it is released.
    pub(crate) fn snapshot(&self) -> Status {
        let stamp = Stamp::now();
        let now = stamp.at;
        let (jobs, totals, retain, executors) = {
            let board = self.lock();
            let jobs: Vec<(u64, JobView)> = board
                .jobs
                .iter()
                .map(|(&id, job)| (id, JobView::of(job, stamp)))
                .collect();
            (
                jobs,
                board.totals.clone(),
                board.retain,
                board.executors.clone(),
            )
        };
        let mut status = Status {
            jobs: Vec::with_capacity(jobs.len()),
            stages: Vec::new(),
            tasks: Vec::new(),
            executors: Vec::new(),
            totals,
            retained_jobs: retain,
        };
        let mut active: HashMap<u32, (usize, usize)> = HashMap::new();
        for (id, job) in &jobs {
            let (id, class) = (*id, ClassName::from(job.class));
            let first_task = status.tasks.len();
            for t in &job.tasks {
                let task = task_status(t, class);
                if !task.status.is_finished() {
                    let a = active.entry(t.executor).or_default();
                    a.0 += 1;
                    a.1 += usize::from(task.status == TaskState::Paused);
                }
                status.tasks.push(task);
            }
            let tasks = &status.tasks[first_task..];
            let failed = job.ended.as_ref().is_some_and(|(_, e)| e.is_some());
            let first_stage = status.stages.len();
            for s in &job.stages {
                status
                    .stages
                    .push(stage_status(id, s, class, failed, tasks));
            }
            let stages = &status.stages[first_stage..];
            let count = |state: TaskState| tasks.iter().filter(|t| t.status == state).count();
            let stage_count =
                |state: StageState| stages.iter().filter(|s| s.status == state).count();
            let paused = count(TaskState::Paused);
            let reruns = tasks.iter().filter(|t| t.attempt > 0).count();
            status.jobs.push(JobStatus {
                job_id: id,
                name: job.name.clone(),
                class,
                status: match &job.ended {
                    None => JobState::Running,
                    Some((_, None)) => JobState::Succeeded,
                    Some((_, Some(_))) => JobState::Failed,
                },
                submission_time: spark_time(job.submitted.wall),
                completion_time: job.ended.as_ref().map(|(at, _)| spark_time(at.wall)),
                duration: millis(
                    job.ended
                        .as_ref()
                        .map_or(now, |(at, _)| at.at)
                        .saturating_duration_since(job.submitted.at),
                ),
                stage_ids: job.stages.iter().map(|s| s.info.id.0).collect(),
                num_tasks: job.stages.iter().map(|s| s.info.partitions).sum::<usize>() + reruns,
                num_active_tasks: count(TaskState::Running) + paused,
                num_completed_tasks: count(TaskState::Success),
                num_failed_tasks: count(TaskState::Failed),
                num_killed_tasks: count(TaskState::Killed),
                num_paused_tasks: paused,
                num_active_stages: stage_count(StageState::Active),
                num_completed_stages: stage_count(StageState::Complete),
                num_failed_stages: stage_count(StageState::Failed),
                suspensions: tasks.iter().map(|t| u64::from(t.suspensions)).sum(),
                error: job.ended.as_ref().and_then(|(_, e)| e.clone()),
            });
        }
        let mut ids: Vec<u32> = executors.keys().copied().collect();
        ids.extend(active.keys().filter(|e| !executors.contains_key(e)));
        ids.sort_unstable();
        for e in ids {
            let totals = executors.get(&e);
            let (active_tasks, paused_tasks) = active.get(&e).copied().unwrap_or_default();
            status.executors.push(ExecutorTasks {
                id: format!("executor-{e}"),
                active_tasks,
                paused_tasks,
                completed_tasks: totals.map_or(0, |t| t.succeeded),
                failed_tasks: totals.map_or(0, |t| t.failed),
                killed_tasks: totals.map_or(0, |t| t.killed),
                total_duration: totals.map_or(0.0, |t| millis(t.busy)),
            });
        }
        status
    }
}

/// Finishes `task` with `end`: the handle's figures (suspensions, slot) are copied
/// into it and the handle is let go, and the cumulative totals count it.
fn finish(
    task: &mut TaskRecord,
    mut end: Ended,
    class: Class,
    totals: &mut StatusTotals,
    executors: &mut BTreeMap<u32, ExecutorTotals>,
) {
    let live = task.live.take();
    end.suspensions = live.as_ref().map_or(0, TaskControl::suspensions);
    end.slot = live.as_ref().and_then(slot_of);
    end.paused = live.as_ref().and_then(paused_time);
    if let Some(p) = end.paused {
        totals.paused_seconds[class.index()] += p.as_secs_f64();
    }
    let took = end.at.at.saturating_duration_since(task.launched.at);
    let i = class.index();
    let records = end.records;
    let executor = executors.entry(task.executor).or_default();
    executor.busy += took;
    match end.state {
        TaskState::Success => {
            totals.tasks_succeeded[i] += 1;
            totals.input_records[i] += records.0;
            totals.output_records[i] += records.1;
            executor.succeeded += 1;
        }
        TaskState::Failed => {
            totals.tasks_failed[i] += 1;
            totals.wasted_seconds[i] += took.as_secs_f64();
            executor.failed += 1;
        }
        TaskState::Killed | TaskState::Running | TaskState::Paused => {
            totals.tasks_killed[i] += 1;
            totals.wasted_seconds[i] += took.as_secs_f64();
            executor.killed += 1;
        }
    }
    totals.suspensions[i] += u64::from(end.suspensions);
    task.ended = Some(end);
}

/// Time a local task spent paused so far (the runtime measures it; a remote task's
/// executor does not report it).
fn paused_time(control: &TaskControl) -> Option<Duration> {
    match control {
        TaskControl::Local(h) => Some(h.paused_time()),
        TaskControl::Remote(_) => None,
    }
}

/// The slot a local task last ran on.
fn slot_of(control: &TaskControl) -> Option<usize> {
    match control {
        TaskControl::Local(h) => h.slot(),
        TaskControl::Remote(_) => None,
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A job's record as copied out from under the board's lock.
struct JobView {
    name: String,
    class: Class,
    submitted: Stamp,
    ended: Option<(Stamp, Option<String>)>,
    stages: Vec<StageRecord>,
    tasks: Vec<TaskView>,
}

impl JobView {
    fn of(job: &JobRecord, now: Stamp) -> JobView {
        JobView {
            name: job.name.clone(),
            class: job.class,
            submitted: job.submitted,
            ended: job.ended.clone(),
            stages: job.stages.clone(),
            tasks: job.tasks.iter().map(|t| TaskView::of(t, now)).collect(),
        }
    }
}

/// A task's record as copied out: a running task's figures read from its handle, as
/// if it ended `now` in its current state.
struct TaskView {
    id: TaskId,
    runtime_id: Option<u64>,
    attempt: u32,
    executor: u32,
    launched: Stamp,
    end: Ended,
}

impl TaskView {
    fn of(t: &TaskRecord, now: Stamp) -> TaskView {
        let end = match (&t.ended, &t.live) {
            (Some(e), _) => e.clone(),
            (None, live) => Ended {
                at: now,
                state: match live.as_ref().map(TaskControl::state) {
                    Some(RuntimeState::Paused) => TaskState::Paused,
                    _ => TaskState::Running,
                },
                error: None,
                suspensions: live.as_ref().map_or(0, TaskControl::suspensions),
                slot: live.as_ref().and_then(slot_of),
                paused: live.as_ref().and_then(paused_time),
                records: (0, 0),
            },
        };
        TaskView {
            id: t.id,
            runtime_id: t.runtime_id,
            attempt: t.attempt,
            executor: t.executor,
            launched: t.launched,
            end,
        }
    }
}

fn task_status(t: &TaskView, class: ClassName) -> TaskStatus {
    let e = &t.end;
    let (status, suspensions, slot, paused, end, records, error) = (
        e.state,
        e.suspensions,
        e.slot,
        e.paused,
        e.at.at,
        e.records,
        e.error.clone(),
    );
    TaskStatus {
        task_id: t.id.to_string(),
        job_id: t.id.job.0,
        stage_id: t.id.stage.0,
        index: t.id.partition,
        attempt: t.attempt,
        executor_id: format!("executor-{}", t.executor),
        slot,
        runtime_task_id: t.runtime_id,
        class,
        status,
        launch_time: spark_time(t.launched.wall),
        duration: millis(end.saturating_duration_since(t.launched.at)),
        suspensions,
        paused_time: paused.map(millis),
        input_records: records.0,
        output_records: records.1,
        error_message: error,
    }
}

fn stage_status(
    job: u64,
    s: &StageRecord,
    class: ClassName,
    job_failed: bool,
    tasks: &[TaskStatus],
) -> StageStatus {
    let mine = || tasks.iter().filter(|t| t.stage_id == s.info.id.0);
    let count = |state: TaskState| mine().filter(|t| t.status == state).count();
    let paused = count(TaskState::Paused);
    let active = count(TaskState::Running) + paused;
    let status = if s.succeeded >= s.info.partitions {
        StageState::Complete
    } else if job_failed {
        StageState::Failed
    } else if s.first_launch.is_some() {
        StageState::Active
    } else {
        StageState::Pending
    };
    let (input_records, output_records) = mine().fold((0, 0), |(i, o), t| {
        (i + t.input_records, o + t.output_records)
    });
    StageStatus {
        stage_id: s.info.id.0,
        job_id: job,
        name: s.info.name.clone(),
        kind: match s.info.kind {
            StageKind::ShuffleMap { .. } => "ShuffleMap",
            StageKind::Result => "Result",
        },
        class,
        status,
        parent_ids: s.info.parents.iter().map(|p| p.0).collect(),
        num_tasks: s.info.partitions,
        num_active_tasks: active,
        num_complete_tasks: count(TaskState::Success),
        num_failed_tasks: count(TaskState::Failed),
        num_killed_tasks: count(TaskState::Killed),
        num_paused_tasks: paused,
        submission_time: s.first_launch.map(|t| spark_time(t.wall)),
        completion_time: s.completed.map(|t| spark_time(t.wall)),
        input_records,
        output_records,
        suspensions: mine().map(|t| u64::from(t.suspensions)).sum(),
    }
}
