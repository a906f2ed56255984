//! The process-wide side of signal delivery: the handlers, the pipe, the listeners (the steps
//! are told once, in [`crate::signal`]).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::loom::std_lock;

/// Signal numbers 0..SLOTS (Linux's real-time signals end at 64).
const SLOTS: usize = 65;

/// One signal number's state.
#[derive(Debug, Default)]
struct Slot {
    /// Set by the handler, taken by [`broadcast`].
    pending: AtomicBool,
    /// Deliveries broadcast so far; a listener waits for it to move past what it saw.
    generation: AtomicU64,
    /// Whether the handler is installed (set once, under `waiters`' lock).
    installed: AtomicBool,
    /// The listeners waiting now.
    waiters: Mutex<Slab<Option<Waker>>>,
}

/// The pipe (a socket pair: both ends non-blocking, close-on-exec) and the slots.
#[derive(Debug)]
struct Globals {
    sender: UnixStream,
    receiver: UnixStream,
    slots: [Slot; SLOTS],
}

static GLOBALS: OnceLock<io::Result<Globals>> = OnceLock::new();

fn globals() -> io::Result<&'static Globals> {
    let globals = GLOBALS.get_or_init(|| {
        let (sender, receiver) = UnixStream::pair()?;
        sender.set_nonblocking(true)?;
        receiver.set_nonblocking(true)?;
        Ok(Globals {
            sender,
            receiver,
            slots: std::array::from_fn(|_| Slot::default()),
        })
    });
    globals
        .as_ref()
        .map_err(|err| io::Error::new(err.kind(), format!("cannot create the signal pipe: {err}")))
}

/// A duplicate of the pipe's read end (non-blocking, like the original), for one runtime's
/// poller.
pub(crate) fn receiver() -> io::Result<UnixStream> {
    globals()?.receiver.try_clone()
}

/// One listener's place: its signal's slot, its waker entry, the generation it has seen.
#[derive(Debug)]
pub(crate) struct Listener {
    slot: &'static Slot,
    key: usize,
    seen: u64,
}

/// Signals that cannot be caught, or whose handlers signal-hook-registry refuses to run
/// (returning from them would re-run the faulting instruction).
const FORBIDDEN: [libc::c_int; 7] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
];

/// A new listener for `signum`, installing the handler first if it is not yet.
pub(crate) fn listen(signum: libc::c_int) -> io::Result<Listener> {
    let index = usize::try_from(signum)
        .ok()
        .filter(|&i| i > 0 && i < SLOTS && !FORBIDDEN.contains(&signum))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("signal {signum} cannot be listened for"),
            )
        })?;
    let globals = globals()?;
    let slot = &globals.slots[index];
    let mut waiters = std_lock(&slot.waiters);
    if !slot.installed.load(Ordering::Acquire) {
        install(signum, index, globals)?;
        slot.installed.store(true, Ordering::Release);
    }
    let key = waiters.insert(None);
    Ok(Listener {
        slot,
        key,
        seen: slot.generation.load(Ordering::Acquire),
    })
}

#[allow(unsafe_code)] // the one unsafe call: registering a signal handler (see SAFETY)
fn install(signum: libc::c_int, index: usize, globals: &'static Globals) -> io::Result<()> {
    let action = move || {
        globals.slots[index].pending.store(true, Ordering::Release);
        // `send(2)` on a non-blocking socket: async-signal-safe; a full pipe (`WouldBlock`)
        // already holds a byte that will wake the reactor.
        let _ = (&globals.sender).write(&[1]);
    };
    // SAFETY: `register` requires the action to be async-signal-safe: it does an atomic store
    // and one `send(2)` on a socket that lives for the whole process (a `'static` global);
    // it allocates nothing, takes no lock and does not panic (the write's error is ignored).
    // `signum` was checked against the signals signal-hook-registry forbids (it would panic).
    let registered = unsafe { signal_hook_registry::register(signum, action) };
    registered.map(drop).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot install a handler for signal {signum}: {err}"),
        )
    })
}

impl Listener {
    /// Ready once the slot's generation has moved past the one seen; else the waker is stored.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let current = self.slot.generation.load(Ordering::Acquire);
        if current != self.seen {
            self.seen = current;
            return Poll::Ready(());
        }
        let mut waiters = std_lock(&self.slot.waiters);
        // Re-checked under the lock: `broadcast` bumps the generation before taking it.
        let current = self.slot.generation.load(Ordering::Acquire);
        if current != self.seen {
            self.seen = current;
            return Poll::Ready(());
        }
        if let Some(entry) = waiters.get_mut(self.key) {
            match entry {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *entry = Some(cx.waker().clone()),
            }
        }
        Poll::Pending
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let removed = std_lock(&self.slot.waiters).try_remove(self.key);
        drop(removed); // its waker, outside the lock
    }
}

/// The reactor saw the pipe's edge: drain the pipe (`receiver` is this driver's duplicate of
/// its read end) and hand the wakers of every listener of a pending signal to `wake`.
pub(crate) fn broadcast(receiver: &UnixStream, mut wake: impl FnMut(Waker)) {
    let mut buf = [0u8; 64];
    // Drain until `WouldBlock`: the next byte written must make a new edge.
    while let Ok(n) = (&*receiver).read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    let Ok(globals) = globals() else { return };
    for slot in &globals.slots {
        if !slot.pending.swap(false, Ordering::AcqRel) {
            continue;
        }
        slot.generation.fetch_add(1, Ordering::AcqRel);
        let mut waiters = std_lock(&slot.waiters);
        for (_, entry) in waiters.iter_mut() {
            if let Some(waker) = entry.take() {
                wake(waker);
            }
        }
    }
}
