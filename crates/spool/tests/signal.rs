//! Signals through the reactor. Its own test binary: these tests signal the whole process.
//!
//! The tests run one at a time (a lock), as each sends a signal the others could see.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use spool::signal::unix::{signal, SignalKind};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn raise(signum: libc::c_int) {
    // SAFETY: `kill(2)` with our own pid and a valid signal number has no memory effects; the
    // handlers installed by `spool::signal` run instead of the default action.
    let rc = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(rc, 0, "kill failed");
}

#[test]
fn sigusr1_reaches_two_listeners() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::watchdog("two listeners", || {
        let rt = common::rt(2);
        let (mut first, mut second) = {
            let _guard = rt.handle().enter();
            (
                signal(SignalKind::user_defined1()).unwrap(),
                signal(SignalKind::user_defined1()).unwrap(),
            )
        };
        let a = rt.spawn(async move { first.recv().await });
        let b = rt.spawn(async move { second.recv().await });
        std::thread::sleep(Duration::from_millis(50)); // both are waiting
        raise(libc::SIGUSR1);
        assert_eq!(rt.block_on(a), Ok(Some(())));
        assert_eq!(rt.block_on(b), Ok(Some(())));
    });
}

#[test]
fn a_listener_sees_each_later_delivery_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::watchdog("later deliveries", || {
        let rt = common::rt(1);
        rt.block_on(async {
            let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
            for _ in 0..3 {
                raise(libc::SIGUSR2);
                assert_eq!(usr2.recv().await, Some(()));
            }
            // Nothing more was sent: the next `recv` waits.
            let next = spool::time::timeout(Duration::from_millis(100), usr2.recv()).await;
            assert!(next.is_err(), "a delivery came from nowhere");
        });
    });
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::watchdog("ctrl_c", || {
        let rt = common::rt(1);
        let waiting = rt.spawn(spool::signal::ctrl_c());
        // The handler is installed at the first poll: wait for it before signalling, else
        // SIGINT's default action would end the test process.
        std::thread::sleep(Duration::from_millis(200));
        raise(libc::SIGINT);
        assert!(matches!(rt.block_on(waiting), Ok(Ok(()))));
    });
}

#[test]
fn a_runtime_dropped_while_a_listener_waits_shuts_down() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::watchdog("drop while waiting", || {
        let rt = common::rt(2);
        let mut hangup = {
            let _guard = rt.handle().enter();
            signal(SignalKind::hangup()).unwrap()
        };
        let waiting = rt.spawn(async move { hangup.recv().await });
        std::thread::sleep(Duration::from_millis(50));
        drop(waiting);
        drop(rt); // joins its threads: must not hang on the listener
                  // The process still handles the signal (the handler outlives the runtime) and a new
                  // runtime's listener gets it.
        let rt = common::rt(1);
        rt.block_on(async {
            let mut hangup = signal(SignalKind::hangup()).unwrap();
            raise(libc::SIGHUP);
            assert_eq!(hangup.recv().await, Some(()));
        });
    });
}

#[test]
fn uncatchable_signals_are_refused() {
    let rt = common::rt(1);
    let _guard = rt.handle().enter();
    for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 1000] {
        let err = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "signal {signum}"
        );
    }
}
