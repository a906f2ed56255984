//! Unix signals by number: [`signal`]`(`[`SignalKind`]`)` gives a [`Signal`] to `recv` on.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use super::registry;

/// A signal number, with constructors for the common ones (tokio's `SignalKind`).
///
/// ```
/// use spool::signal::unix::SignalKind;
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number (validated by [`signal`]).
    ///
    /// ```
    /// let winch = spool::signal::unix::SignalKind::from_raw(libc::SIGWINCH);
    /// # drop(winch);
    /// ```
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn as_raw_value(self) -> libc::c_int {
        self.0
    }

    /// SIGINT: Ctrl-C in a terminal.
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// SIGTERM: the polite "please exit" (`kill`, systemd, Kubernetes).
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// SIGHUP: the terminal went away; daemons take it as "reload your configuration".
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// SIGQUIT: Ctrl-\ in a terminal.
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// SIGUSR1: the application's to define.
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// SIGUSR2: the application's to define.
    ///
    /// ```
    /// assert_eq!(spool::signal::unix::SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }
}

/// Listens for `kind`: installs the process's handler for it (once per signal number) and
/// registers the signal pipe with the current runtime's reactor (once per runtime).
///
/// Every `Signal` for the same number gets every delivery: two listeners for SIGUSR1 both wake.
///
/// # Errors
///
/// `InvalidInput` for a number that is not a signal or one that cannot be caught (SIGKILL,
/// SIGSTOP) or must not be (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: the faults
/// signal-hook-registry refuses); the OS error if the handler or the pipe cannot be set up.
///
/// ```
/// use spool::signal::unix::{signal, SignalKind};
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let mut hangups = signal(SignalKind::hangup())?;
/// spool::spawn(async move {
///     while hangups.recv().await.is_some() {
///         println!("SIGHUP: reloading the configuration");
///     }
/// })
/// .detach();
/// assert_eq!(signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let listener = registry::listen(kind.0)?;
    // The pipe must be watched by this runtime's reactor, or nobody may turn it into wake-ups.
    crate::runtime::context::driver().enable_signals()?;
    Ok(Signal { listener, kind })
}

/// A stream of deliveries of one signal, from [`signal`].
///
/// ```
/// use spool::signal::unix::{signal, SignalKind};
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let mut usr1 = signal(SignalKind::user_defined1())?;
/// std::process::Command::new("kill").args(["-USR1", &std::process::id().to_string()]).status()?;
/// assert_eq!(usr1.recv().await, Some(()));
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Signal {
    listener: registry::Listener,
    kind: SignalKind,
}

impl Signal {
    /// Waits for the next delivery; `Some(())` once for every batch of deliveries since the
    /// last call (several signals that arrive in between count once). Never `None` today: the
    /// stream does not end (the `Option` is tokio's shape).
    ///
    /// ```
    /// # use spool::signal::unix::{signal, SignalKind};
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let mut usr2 = signal(SignalKind::user_defined2())?;
    /// std::process::Command::new("kill").args(["-USR2", &std::process::id().to_string()]).status()?;
    /// usr2.recv().await;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    ///
    /// ```
    /// # use spool::signal::unix::{signal, SignalKind};
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let mut usr2 = signal(SignalKind::user_defined2())?;
    /// std::process::Command::new("kill").args(["-USR2", &std::process::id().to_string()]).status()?;
    /// std::future::poll_fn(|cx| usr2.poll_recv(cx)).await;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.listener.poll(cx).map(Some)
    }

    /// The signal this listens for.
    ///
    /// ```
    /// # use spool::signal::unix::{signal, SignalKind};
    /// # let rt = spool::Runtime::new()?;
    /// # let _guard = rt.handle().enter();
    /// assert_eq!(signal(SignalKind::user_defined2())?.kind(), SignalKind::user_defined2());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}
