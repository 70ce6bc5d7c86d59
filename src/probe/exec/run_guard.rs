//! The run guard: a run's process group and the processes that left it, from before the
//! program starts until nothing of the run is left. Stopping a run signals and reaps them all,
//! as the run's user where the daemon may not signal them itself; [`adopt_orphans`] makes the
//! daemon the reaper that finds those that left the group.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::procfs::{children, children_of, is_zombie, run_token, start_time};
use super::signal::{Group, Ids, as_user, kill_group, kill_if_same};
use super::spawn::{Child, Spawn, spawn};

/// Time between SIGTERM and SIGKILL when a run is stopped.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long killed processes get to be gone before the stop gives up on them (one in
/// uninterruptible sleep only dies when its I/O ends).
const GONE_AFTER_KILL: Duration = Duration::from_secs(1);
/// How often a stopping run looks at what is left of it.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How often a running run records the processes descended from it ([`Watch`]).
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Whether this process adopts orphans ([`adopt_orphans`]). Only then does a stopping run look
/// at children other than leads: in any other process they are someone else's to wait for.
static ADOPTING: AtomicBool = AtomicBool::new(false);
/// Numbers the runs, for their tokens.
static RUN_SERIAL: AtomicU64 = AtomicU64::new(0);
/// The runs in flight in this process. Held while a lead is started, so that no other run
/// takes it for an orphan before its pid is on record; and while a stopping run picks,
/// signals and reaps the orphans that are its own, so that two runs never both signal a pid
/// one of them has reaped, and which may by then be another process's.
static IN_FLIGHT: Mutex<Vec<InFlight>> = Mutex::new(Vec::new());

struct InFlight {
    serial: u64,
    token: String,
    /// The lead's pid, which is its group's and its session's id too; 0 until it is started.
    pgid: libc::pid_t,
    /// The run's processes as recorded while it ran: pid → start time. A process is the run's
    /// when it descends from the lead, or is an orphan in the run's session or with its
    /// token, or descends from one of those; once recorded it stays the run's, whatever its
    /// session, group or environment become, for as long as the pid has that start time.
    known: HashMap<libc::pid_t, u64>,
}

fn in_flight() -> MutexGuard<'static, Vec<InFlight>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes this process the reaper of its probes' orphans (`PR_SET_CHILD_SUBREAPER`): a
/// process a probe detached (a double fork, `setsid`, a daemon that backgrounds itself)
/// becomes this process's child instead of init's when its parent exits, where the end of the
/// run finds it, stops it and reaps it. The commands that run probes call this once at their
/// start. A process that does not (a library user, the tests) gets the group stop only, and
/// none of its children but the leads of runs is ever signalled or waited for.
pub fn adopt_orphans() -> std::io::Result<()> {
    // prctl is variadic: the arguments must have the width the kernel reads.
    let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: PR_SET_CHILD_SUBREAPER sets a flag of this process and reads only its second
    // argument.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on, unused, unused, unused) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    ADOPTING.store(true, Ordering::SeqCst);
    Ok(())
}

/// A run's processes, from before its program starts until nothing of it is left. Stopping
/// it, when it ends ([`Run::stop`]) or when it is dropped half-way ([`Drop`]), reaches its
/// process group and the processes that left the group.
pub(super) struct Run {
    probe: String,
    serial: u64,
    /// The value of [`RUN_VARIABLE`](super::RUN_VARIABLE) in the run's processes.
    pub(super) token: String,
    user: Option<Ids>,
    child: Option<Child>,
    group: Option<Group>,
    /// Set once [`Run::stop`] has finished; a run dropped before then is stopped at once.
    stopped: bool,
    /// This is the part of a dropped run handed to a blocking thread: its drop stops it
    /// where it is, never handing it on again.
    stop_here: bool,
}

/// Where a child of this process is, as a stopping run sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// In the run's process group.
    Group,
    /// In the daemon's own process group.
    DaemonGroup,
    /// In a group of neither, nor of another run in flight.
    Outside,
}

/// What a stopping run has done to the processes that left its group.
#[derive(Default)]
struct Reach {
    /// The last signal each was sent, so that each gets SIGTERM once and SIGKILL once.
    signalled: HashMap<libc::pid_t, libc::c_int>,
    /// Those neither the daemon nor the run's user may signal: another user's, so not this
    /// run's; their own run stops them.
    out_of_reach: HashSet<libc::pid_t>,
    /// Those found to be this run's, which stay so when their environment can no longer be
    /// read (a zombie's cannot): a pid is not reused before it is reaped.
    ours: HashSet<libc::pid_t>,
    /// Those whose environment could not be read once, while another run was in flight.
    unread_once: HashSet<libc::pid_t>,
}

impl Run {
    pub(super) fn new(probe: &str, user: Option<Ids>) -> Run {
        let serial = RUN_SERIAL.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}.{serial}", std::process::id());
        in_flight().push(InFlight {
            serial,
            token: token.clone(),
            pgid: 0,
            known: HashMap::new(),
        });
        Run {
            probe: probe.to_string(),
            serial,
            token,
            user,
            child: None,
            group: None,
            stopped: false,
            stop_here: false,
        }
    }

    /// What records the run's processes while it runs; see [`Watch::run`].
    pub(super) fn watch(&self) -> Watch {
        Watch {
            serial: self.serial,
            user: self.user,
        }
    }

    /// Starts the program, holding [`IN_FLIGHT`] until its pid is on record.
    pub(super) fn spawn(&mut self, started: &Spawn<'_>) -> std::io::Result<&mut Child> {
        let mut in_flight = in_flight();
        let child = spawn(started)?;
        // The pid is known until the child is reaped, and we have not awaited it yet.
        let pgid = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok());
        if let Some(pgid) = pgid
            && let Some(entry) = in_flight.iter_mut().find(|r| r.serial == self.serial)
        {
            entry.pgid = pgid;
        }
        drop(in_flight);
        self.group = pgid.map(|pgid| Group {
            pgid,
            user: self.user,
        });
        Ok(self.child.insert(child))
    }

    /// SIGTERM to the group and to the processes that left it, then SIGKILL to whatever is
    /// left after the grace period. The program and the adopted processes are reaped on the
    /// way, so that none lingers as a zombie (which would also keep the group alive).
    pub(super) async fn stop(&mut self) {
        let mut reach = Reach::default();
        let mut signal = libc::SIGTERM;
        kill_group(self.group, signal);
        let mut deadline = Instant::now() + KILL_GRACE;
        while self.left(signal, &mut reach) {
            if Instant::now() >= deadline {
                if signal == libc::SIGKILL {
                    self.give_up();
                    break;
                }
                signal = libc::SIGKILL;
                kill_group(self.group, signal);
                deadline = Instant::now() + GONE_AFTER_KILL;
                continue;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        self.stopped = true;
    }

    /// The stop of a run dropped half-way: SIGKILL at once, since nothing waits for a grace
    /// period to pass, and a wait (usually milliseconds, at most [`GONE_AFTER_KILL`]) for
    /// the processes to go, on the blocking thread [`Drop`] hands it to.
    fn stop_now(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        kill_group(self.group, libc::SIGKILL);
        let _ = child.start_kill();
        let mut reach = Reach::default();
        let deadline = std::time::Instant::now() + GONE_AFTER_KILL;
        while self.left(libc::SIGKILL, &mut reach) {
            if std::time::Instant::now() >= deadline {
                self.give_up();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// One look at what is left of the run: reaps what has ended, sends `signal` to the
    /// processes that left the group and have not had it yet, and says whether anything is
    /// left.
    fn left(&mut self, signal: libc::c_int, reach: &mut Reach) -> bool {
        let lead = self
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        let adopted = self.sweep(signal, reach);
        // Signal 0 asks whether any member of the group is still there.
        lead || adopted || kill_group(self.group, 0)
    }

    /// Stops and reaps the processes of this run found among this process's children, which
    /// are, leads aside (every lead is on record, and its run waits for it), the orphans
    /// it adopted. Says whether any of them is left. A child is this run's when
    /// - it is in the run's group;
    /// - or it is in no group of another run in flight and not in the daemon's own, and its
    ///   environment does not carry the token of another run in flight;
    /// - or it is in the daemon's own group (which no probe's process starts in, but one can
    ///   join it: the runs share the daemon's session) and carries a token of this process's
    ///   other than another run in flight's. Without one it is someone else's child.
    ///
    /// An environment that cannot be read (another user's process when the daemon lacks
    /// CAP_SYS_PTRACE, as under the unit; one that made itself not dumpable; a zombie; one in
    /// the middle of `execve`, which shows none for an instant) is read again as the run's
    /// user, and while another run is in flight, once more at the next look. If that fails
    /// too, a process outside the daemon's group counts as this run's. So a stray of a run that
    /// already ended is stopped by the next run that ends, and a process of another run in
    /// flight that cannot be told apart is stopped early rather than left running.
    fn sweep(&self, signal: libc::c_int, reach: &mut Reach) -> bool {
        // The children that look read serve this one too: a second read an instant later
        // would cost a `/proc` read per thread and tell nothing new.
        // A reaped lead's pid may already be another process's: it is not looked up.
        let lead_reaped = self
            .child
            .as_ref()
            .is_some_and(|child| child.id().is_none());
        let listed = record(self.serial, self.user, lead_reaped);
        let descendants = self.signal_recorded(signal, reach);
        if !ADOPTING.load(Ordering::Relaxed) {
            return descendants;
        }
        let own = self.group.map(|g| g.pgid);
        let in_flight = in_flight();
        let mine = in_flight.iter().find(|r| r.serial == self.serial);
        let recorded = |pid: libc::pid_t, started: Option<u64>| {
            started.is_some() && mine.is_some_and(|r| r.known.get(&pid).copied() == started)
        };
        let others_recorded = |pid: libc::pid_t, started: Option<u64>| {
            started.is_some()
                && in_flight
                    .iter()
                    .any(|r| r.serial != self.serial && r.known.get(&pid).copied() == started)
        };
        let others = || in_flight.iter().filter(|r| r.serial != self.serial);
        // SAFETY: getpgrp cannot fail.
        let daemon_group = unsafe { libc::getpgrp() };
        let this_process = format!("{}.", std::process::id());
        let mut candidates = Vec::new();
        for pid in listed.unwrap_or_else(children) {
            if in_flight.iter().any(|r| r.pgid == pid) {
                continue;
            }
            // SAFETY: getpgid and getsid only read; for a process that is gone they yield -1.
            let (pgid, sid) = unsafe { (libc::getpgid(pid), libc::getsid(pid)) };
            if pgid <= 0 {
                continue;
            }
            // Ancestry and session first: neither can be shed the way a group or a token can.
            let started = start_time(pid);
            if recorded(pid, started) || (own.is_some() && Some(sid) == own) {
                candidates.push((pid, Where::Outside));
                reach.ours.insert(pid);
                continue;
            }
            if others_recorded(pid, started) || others().any(|r| r.pgid == sid) {
                continue;
            }
            if Some(pgid) == own {
                candidates.push((pid, Where::Group));
            } else if pgid == daemon_group {
                candidates.push((pid, Where::DaemonGroup));
            } else if !others().any(|r| r.pgid == pgid) {
                candidates.push((pid, Where::Outside));
            }
        }
        let mut tokens = HashMap::new();
        let mut unread = Vec::new();
        for &(pid, place) in &candidates {
            if place != Where::Group {
                match run_token(pid) {
                    Ok(token) => {
                        tokens.insert(pid, token);
                    }
                    Err(_) => unread.push(pid),
                }
            }
        }
        if self.user.is_some() && !unread.is_empty() {
            tokens.extend(as_user(self.user, || {
                unread
                    .iter()
                    .filter_map(|&pid| Some((pid, run_token(pid).ok()?)))
                    .collect::<Vec<_>>()
            }));
        }
        let mut left = 0usize;
        candidates.retain(|&(pid, place)| {
            if place == Where::Group || reach.ours.contains(&pid) {
                return true;
            }
            let Some(token) = tokens.get(&pid) else {
                if place == Where::DaemonGroup {
                    return false;
                }
                if others().next().is_some() && reach.unread_once.insert(pid) {
                    left += 1;
                    return false;
                }
                return true;
            };
            let another_runs = token
                .as_ref()
                .is_some_and(|t| others().any(|r| &r.token == t));
            match place {
                Where::Group | Where::Outside => !another_runs,
                Where::DaemonGroup => {
                    !another_runs && token.as_ref().is_some_and(|t| t.starts_with(&this_process))
                }
            }
        });
        reach.ours.extend(candidates.iter().map(|&(pid, _)| pid));
        let mut denied = Vec::new();
        for (pid, place) in candidates {
            if reap(pid) {
                // Its pid may now be reused, by a process that has had no signal.
                reach.signalled.remove(&pid);
                reach.out_of_reach.remove(&pid);
                reach.ours.remove(&pid);
                reach.unread_once.remove(&pid);
                continue;
            }
            if reach.out_of_reach.contains(&pid) {
                continue;
            }
            left += 1;
            // The group's members had the group's signal.
            if place != Where::Group && reach.signalled.insert(pid, signal) != Some(signal) {
                // SAFETY: kill only sends a signal, and the pid is an unreaped child of ours,
                // so it is still the process we looked at.
                if unsafe { libc::kill(pid, signal) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
                {
                    denied.push(pid);
                }
            }
        }
        if !denied.is_empty() {
            // Another user's process, and no CAP_KILL here: as the run's user, if it is theirs.
            let failed = match self.user {
                None => denied,
                Some(_) => as_user(self.user, || {
                    denied
                        .into_iter()
                        // SAFETY: as above.
                        .filter(|&pid| unsafe { libc::kill(pid, signal) } != 0)
                        .collect::<Vec<_>>()
                }),
            };
            left -= failed.len();
            reach.out_of_reach.extend(failed);
        }
        left > 0 || descendants
    }

    /// Signals the run's recorded processes that are not this process's children (those are
    /// the sweep's): descendants still under a living parent, in a group or session of their
    /// own. Each is signalled by pidfd, as the run's user, and only while its start time is the
    /// one recorded. Says whether any is left (a zombie is not: its parent reaps it, or it
    /// comes to this process when its parent ends).
    fn signal_recorded(&self, signal: libc::c_int, reach: &mut Reach) -> bool {
        let lead = self.group.map(|g| g.pgid);
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        let recorded: Vec<(libc::pid_t, u64)> = in_flight()
            .iter()
            .find(|r| r.serial == self.serial)
            .map(|r| r.known.iter().map(|(&p, &s)| (p, s)).collect())
            .unwrap_or_default();
        let targets: Vec<(libc::pid_t, u64, bool)> = recorded
            .into_iter()
            .filter(|&(pid, _)| Some(pid) != lead)
            .map(|(pid, started)| {
                let fresh = reach.signalled.get(&pid) != Some(&signal);
                (pid, started, fresh)
            })
            .collect();
        if targets.is_empty() {
            return false;
        }
        let (left, sent) = as_user(self.user, || {
            let mut left = false;
            let mut sent = Vec::new();
            for (pid, started, fresh) in targets {
                if start_time(pid) != Some(started) || is_zombie(pid) {
                    continue;
                }
                if super::procfs::parent_of_is(pid, me) {
                    // Adopted: the sweep signals and reaps it.
                    continue;
                }
                left = true;
                if fresh && kill_if_same(pid, started, signal) {
                    sent.push(pid);
                }
            }
            (left, sent)
        });
        for pid in sent {
            reach.signalled.insert(pid, signal);
        }
        left
    }

    fn give_up(&self) {
        tracing::warn!(
            probe = %self.probe,
            "processes of the run were still there {} after SIGKILL (in uninterruptible sleep?); they are reaped once they end",
            humantime::format_duration(GONE_AFTER_KILL)
        );
    }
}

impl Drop for Run {
    /// A run dropped half-way is stopped off the runtime's threads: the stop waits, up to
    /// [`GONE_AFTER_KILL`], for the killed processes to be gone, and a runtime thread that
    /// waited would hold up every other probe's schedule (and, on a current-thread runtime,
    /// everything). The run stays in [`IN_FLIGHT`] until that stop is over, so that other
    /// runs still tell its processes from their own. Without a runtime (or as the part
    /// handed over), it stops here.
    fn drop(&mut self) {
        if !self.stopped && self.child.is_some() {
            if !self.stop_here
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                let rest = Run {
                    probe: std::mem::take(&mut self.probe),
                    serial: self.serial,
                    token: std::mem::take(&mut self.token),
                    user: self.user,
                    child: self.child.take(),
                    group: self.group.take(),
                    stopped: false,
                    stop_here: true,
                };
                // Its drop is the stop, on the blocking thread; dropped unrun (the runtime
                // shutting down), it stops wherever that happens.
                runtime.spawn_blocking(move || drop(rest));
                return;
            }
            self.stop_now();
        }
        in_flight().retain(|r| r.serial != self.serial);
    }
}

/// Records a running run's processes every [`WATCH_EVERY`], so that a process that leaves the
/// run (a new session, a new group, a cleared environment) is known as the run's by its
/// ancestry once its parent is gone and it is this process's orphan.
#[derive(Clone, Copy)]
pub(super) struct Watch {
    serial: u64,
    user: Option<Ids>,
}

impl Watch {
    /// Records until dropped; the reading of `/proc` runs on the blocking pool.
    ///
    /// The first look waits [`WATCH_EVERY`] too. One taken as the program starts finds the
    /// lead alone (which every look records anyway, and the stop's look sees), and a run that
    /// ends sooner, as most do, is looked at once, by its stop: with probes every second that
    /// saves each run a hop to the blocking pool and a `/proc` read per thread.
    pub(super) async fn run(self) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            // A failed look (a panic in it) is only a missed one: the next, or the stop's, follows.
            let _ =
                tokio::task::spawn_blocking(move || record(self.serial, self.user, false)).await;
        }
    }
}

/// Brings the record of run `serial` up to date: drops the processes that are gone (or whose
/// pid now has another start time), and adds the lead, this process's orphans that are in the
/// run's session or carry its token, and every descendant of a recorded process. Reads
/// `/proc` as the run's user, where `hidepid` hides that user's processes from the daemon.
/// The lead is left out once `lead_reaped`: its pid is free for the kernel to hand out again.
/// Returns this process's children as it listed them (`None` when it did not: no run on
/// record, or orphans are not adopted here).
fn record(serial: u64, user: Option<Ids>, lead_reaped: bool) -> Option<Vec<libc::pid_t>> {
    let (lead, token, known, leads) = {
        let in_flight = in_flight();
        let leads: Vec<libc::pid_t> = in_flight.iter().map(|r| r.pgid).collect();
        in_flight
            .iter()
            .find(|r| r.serial == serial && r.pgid > 0)
            .map(|r| (r.pgid, r.token.clone(), r.known.clone(), leads))
    }?;
    let (found, listed) = as_user(user, move || {
        let mut found: HashMap<libc::pid_t, u64> = known
            .into_iter()
            .filter(|&(pid, started)| {
                !(lead_reaped && pid == lead) && start_time(pid) == Some(started)
            })
            .collect();
        if !lead_reaped && let Some(started) = start_time(lead) {
            found.insert(lead, started);
        }
        let listed = ADOPTING.load(Ordering::Relaxed).then(children);
        for &pid in listed.iter().flatten() {
            if leads.contains(&pid) || found.contains_key(&pid) {
                continue;
            }
            // SAFETY: getsid only reads; for a process that is gone it yields -1.
            let sid = unsafe { libc::getsid(pid) };
            let ours =
                sid == lead || run_token(pid).ok().flatten().as_deref() == Some(token.as_str());
            if ours && let Some(started) = start_time(pid) {
                found.insert(pid, started);
            }
        }
        let mut queue: Vec<libc::pid_t> = found.keys().copied().collect();
        while let Some(pid) = queue.pop() {
            for child in children_of(pid) {
                if !found.contains_key(&child)
                    && let Some(started) = start_time(child)
                {
                    found.insert(child, started);
                    queue.push(child);
                }
            }
        }
        (found, listed)
    });
    if let Some(entry) = in_flight().iter_mut().find(|r| r.serial == serial) {
        entry.known = found;
    }
    listed
}

/// Reaps `pid` if it has ended; says whether it is gone. Only adopted processes are reaped
/// here, each by its pid: waiting for any child (-1) would take the leads' statuses from the
/// runs that wait for them.
fn reap(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waits, without blocking, for this one child of ours.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) != 0 }
}
