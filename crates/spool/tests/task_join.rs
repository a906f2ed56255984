//! The `Task` handle: results, detach, cancel on drop, identity.

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{DropCounter, Signal};

rt_test! {
    fn detached_tasks_run_to_completion(rt) {
        let done = Signal::default();
        let d = done.clone();
        rt.spawn(async move {
            spool::time::sleep(Duration::from_millis(10)).await;
            d.set();
        })
        .detach();
        rt.block_on(done.wait());
    }
}

rt_test! {
    multi_thread_only;
    fn dropped_task_never_completes(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            spool::time::sleep(Duration::from_millis(50)).await;
            r.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(5));
        drop(task);
        std::thread::sleep(Duration::from_millis(150));
        assert!(!ran.load(Ordering::SeqCst), "a dropped task must not run on");
        assert_eq!(counter.drops(), 1);
    }
}

rt_test! {
    fn task_output_can_be_any_send_type(rt) {
        let v = rt.block_on(rt.spawn(async { vec![String::from("a"), String::from("b")] }));
        assert_eq!(v.unwrap(), ["a", "b"]);
        let r: Result<Result<(), std::io::Error>, _> = rt.block_on(rt.spawn(async {
            Err(std::io::Error::other("inner error"))
        }));
        assert_eq!(r.unwrap().unwrap_err().to_string(), "inner error");
    }
}

rt_test! {
    multi_thread_only;
    fn ids_locations_and_is_finished(rt) {
        let line = line!() + 1;
        let a = rt.spawn(async {});
        let b = rt.spawn(std::future::pending::<()>());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.location().file(), file!());
        assert_eq!(a.location().line(), line);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !a.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(a.is_finished());
        assert!(!b.is_finished());
        assert!(format!("{a:?}").contains("Task"));
    }
}

#[test]
fn spawn_location_through_the_free_function() {
    let line = line!() + 1;
    let task = spool::spawn(async {});
    assert_eq!(task.location().line(), line);
    assert_eq!(spool::block_on(task), Ok(()));
}

#[test]
fn join_error_display() {
    assert_eq!(
        spool::JoinError::Cancelled.to_string(),
        "task cancelled: aborted, or its runtime shut down"
    );
    assert_eq!(
        spool::JoinError::Panicked("x".into()).to_string(),
        "task panicked: x"
    );
}
