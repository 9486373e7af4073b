//! The status board (`Context::status`): jobs, stages and tasks as the job drivers
//! record them, paused tasks included, and bounded however many jobs run.

mod common;

use common::wait_for;
use neptune_dataflow::status::{ClassName, JobState, StageState, TaskState};
use neptune_dataflow::{Class, Context};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

fn context(slots: usize) -> Context {
    Context::builder()
        .executors(1)
        .slots_per_executor(slots)
        .policy("neptune")
        .build()
        .unwrap()
}

#[test]
fn a_paused_task_shows_as_paused_then_its_job_as_succeeded() {
    let ctx = context(2);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let job = ctx
        .generate(2, move |_| {
            let s = s.clone();
            (0u64..).take_while(move |_| !s.load(SeqCst))
        })
        .map(|x| (x % 5, 1u64))
        .reduce_by_key(|a, b| a + b)
        .job()
        .collect();
    wait_for("both map tasks to launch", || job.tasks().len() == 2);
    let tasks = job.tasks();
    assert!(tasks[0].handle.pause());

    // A pause can come before the task's first poll: it is Paused at once, and parked
    // on a slot (with a suspension) when a slot picks it up.
    wait_for("the board to show the task paused and parked", || {
        ctx.status()
            .tasks
            .iter()
            .any(|t| t.status == TaskState::Paused && t.slot.is_some() && t.suspensions >= 1)
    });
    let status = ctx.status();
    let j = &status.jobs[0];
    assert_eq!(j.status, JobState::Running);
    assert_eq!(j.class, ClassName::Batch);
    assert_eq!(j.name, "collect at reduce_by_key#2");
    assert_eq!(j.stage_ids, [0, 1]);
    assert_eq!(
        (j.num_tasks, j.num_active_tasks, j.num_paused_tasks),
        (4, 2, 1)
    );
    assert_eq!(status.stages[0].status, StageState::Active);
    assert_eq!(status.stages[0].num_paused_tasks, 1);
    assert_eq!(status.stages[1].status, StageState::Pending);
    let paused = status
        .tasks
        .iter()
        .find(|t| t.status == TaskState::Paused)
        .unwrap();
    assert_eq!((paused.job_id, paused.stage_id, paused.index), (0, 0, 0));
    assert_eq!(paused.executor_id, "executor-0");
    assert!(paused.slot.is_some_and(|s| s < 2));
    assert!(paused.suspensions >= 1);
    assert!(paused.paused_time.is_some());
    assert!(paused.runtime_task_id.is_some());
    assert_eq!(status.executors[0].paused_tasks, 1);
    assert_eq!(status.executors[0].active_tasks, 2);
    // The summary counts the same, without the lists.
    let summary = ctx.status_summary();
    assert_eq!(summary.active_jobs, [0, 1]);
    assert_eq!(
        (summary.running_tasks, summary.paused_tasks),
        ([0, 1], [0, 1])
    );
    assert_eq!(summary.totals, status.totals);

    // The JSON is shaped as Spark's.
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["jobs"][0]["numPausedTasks"], 1);
    assert_eq!(json["jobs"][0]["status"], "RUNNING");
    assert_eq!(json["stages"][0]["status"], "ACTIVE");
    assert_eq!(json["tasks"][0]["status"], "PAUSED");
    assert_eq!(json["tasks"][0]["taskId"], "job-0/stage-0/part-0");
    assert!(json["tasks"][0]["launchTime"]
        .as_str()
        .unwrap()
        .ends_with("GMT"));

    assert!(tasks[0].handle.resume());
    stop.store(true, SeqCst);
    job.wait().unwrap();
    // An ended job leaves the summary's counts (it stays on the board).
    let summary = ctx.status_summary();
    assert_eq!(summary.active_jobs, [0, 0]);
    assert_eq!(
        (summary.running_tasks, summary.paused_tasks),
        ([0, 0], [0, 0])
    );
    let status = ctx.status();
    let j = &status.jobs[0];
    assert_eq!(j.status, JobState::Succeeded);
    assert!(j.completion_time.is_some());
    assert_eq!((j.num_completed_tasks, j.num_active_tasks), (4, 0));
    assert!(j.suspensions >= 1);
    assert!(status
        .stages
        .iter()
        .all(|s| s.status == StageState::Complete && s.completion_time.is_some()));
    assert!(status.tasks.iter().all(|t| t.status == TaskState::Success));
    assert!(status.tasks.iter().all(|t| t.paused_time.is_some()));
    assert_eq!(status.totals.jobs_succeeded, [0, 1]);
    assert_eq!(status.totals.tasks_succeeded, [0, 4]);
    assert!(status.totals.suspensions[1] >= 1);
    assert_eq!(status.executors[0].completed_tasks, 4);
}

#[test]
fn failed_and_cancelled_jobs_show_why_and_their_tasks_end() {
    let ctx = context(2);
    let err = ctx
        .range(0..10, 2)
        .map(|x| if x == 7 { panic!("record 7") } else { x })
        .count()
        .unwrap_err();
    let endless = ctx.generate(2, |_| 0u64..).job().count();
    wait_for("the endless tasks to launch", || endless.tasks().len() == 2);
    endless.cancel();
    assert!(endless.wait().is_err());
    let stream = ctx.range(0..100, 2).with_class(Class::Stream).count();
    assert_eq!(*stream.unwrap(), 100);

    let status = ctx.status();
    let [failed, cancelled, streamed] = &status.jobs[..] else {
        panic!("three jobs: {:?}", status.jobs);
    };
    assert_eq!(failed.status, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some(err.to_string().as_str()));
    assert_eq!(failed.num_failed_tasks, 1);
    let task = status
        .tasks
        .iter()
        .find(|t| t.status == TaskState::Failed)
        .unwrap();
    assert_eq!((task.job_id, task.index), (failed.job_id, 1));
    assert!(task.error_message.as_deref().unwrap().contains("record 7"));
    assert_eq!(status.stages[0].status, StageState::Failed);

    assert_eq!(cancelled.status, JobState::Failed);
    assert_eq!(
        (cancelled.num_killed_tasks, cancelled.num_active_tasks),
        (2, 0)
    );
    assert_eq!(streamed.class, ClassName::Stream);
    assert_eq!(streamed.status, JobState::Succeeded);
    assert_eq!(status.totals.jobs_failed, [0, 2]);
    assert_eq!(status.totals.jobs_succeeded, [1, 0]);
    assert_eq!(status.totals.input_records[0], 100);
    assert_eq!(status.totals.tasks_killed[1], 2);
}

#[test]
fn the_board_keeps_the_last_finished_jobs_only() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(1)
        .retained_jobs(3)
        .build()
        .unwrap();
    for _ in 0..10 {
        ctx.range(0..100, 2)
            .map(|x| (x % 3, x))
            .group_by_key()
            .count()
            .unwrap();
    }
    let status = ctx.status();
    let ids: Vec<u64> = status.jobs.iter().map(|j| j.job_id).collect();
    assert_eq!(ids, [7, 8, 9]);
    assert!(status.stages.iter().all(|s| s.job_id >= 7));
    assert_eq!(status.tasks.len(), 3 * 4);
    assert_eq!(status.totals.jobs_dropped, 7);
    assert_eq!(status.totals.jobs_succeeded, [0, 10]);
    assert_eq!(status.totals.tasks_succeeded, [0, 40]);
    assert_eq!(status.executors[0].completed_tasks, 40);
}
