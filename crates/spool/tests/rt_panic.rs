//! Panicking tasks never take a worker down (the chapter's `catch_unwind`), and whoever awaits
//! them learns the panic's message.

#[macro_use]
mod common;

use std::sync::Once;

/// The default hook would print 1 000 backtraces; these panics are expected.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.starts_with("task "))
                || info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|m| m.starts_with("task "));
            if !expected {
                default(info);
            }
        }));
    });
}

rt_test! {
    fn thousand_panicking_tasks_leave_workers_alive(rt) {
        quiet_panics();
        let workers = rt.metrics().workers.len();
        let (panics, oks) = rt.block_on(async {
            let tasks: Vec<_> = (0..2_000u32)
                .map(|i| {
                    spool::spawn(async move {
                        if i % 2 == 0 {
                            panic!("task {i} panics");
                        }
                        i
                    })
                })
                .collect();
            let (mut panics, mut oks) = (0, 0);
            for (i, task) in tasks.into_iter().enumerate() {
                match task.await {
                    Err(spool::JoinError::Panicked(message)) => {
                        assert_eq!(message, format!("task {i} panics"));
                        panics += 1;
                    }
                    Ok(v) => {
                        assert_eq!(v as usize, i);
                        oks += 1;
                    }
                    Err(other) => panic!("unexpected {other}"),
                }
            }
            (panics, oks)
        });
        assert_eq!((panics, oks), (1_000, 1_000));
        // Every worker still runs tasks: a task per worker that waits for all the others to
        // start proves that `workers` distinct threads are alive.
        let started = std::sync::Arc::new(std::sync::Barrier::new(workers));
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let started = started.clone();
                rt.spawn_blocking(move || started.wait())
            })
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        let names: std::collections::HashSet<_> = (0..workers * 50)
            .map(|_| rt.spawn(async { std::thread::current().name().map(String::from) }))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|task| rt.block_on(task).unwrap())
            .collect();
        assert!(!names.is_empty());
        assert_eq!(rt.block_on(rt.spawn(async { 1 })), Ok(1));
    }
}

rt_test! {
    fn panic_payloads_become_messages(rt) {
        quiet_panics();
        let string = rt.block_on(rt.spawn(async { panic!("task {}", "formatted") }));
        assert_eq!(string, Err::<(), _>(spool::JoinError::Panicked("task formatted".into())));
        let literal = rt.block_on(rt.spawn(async { panic!("task literal") }));
        assert_eq!(literal, Err::<(), _>(spool::JoinError::Panicked("task literal".into())));
        let error = rt.block_on(rt.spawn(async { panic!("task x") })).unwrap_err();
        assert!(error.is_panic());
        assert_eq!(error.to_string(), "task panicked: task x");
    }
}

rt_test! {
    fn awaiting_task_survives_a_panicking_child(rt) {
        quiet_panics();
        let outer = rt.block_on(rt.spawn(async {
            let child = spool::spawn(async { panic!("task child") });
            matches!(child.await, Err(spool::JoinError::Panicked(_)))
        }));
        assert_eq!(outer, Ok(true));
    }
}
