//! Who this process is, as a claim records it, and whether the process behind another claim on
//! this host is still alive (read from `/proc`; elsewhere only the lease decides).

use std::sync::OnceLock;

use pixfuse_core::lifecycle::{Liveness, Owner};
use uuid::Uuid;

/// This process as the owner of claims, with a fresh `instance` id (one per client).
pub(crate) fn this_process(instance: Uuid) -> Owner {
    let (host, start) = identity();
    Owner {
        host: host.clone(),
        pid: std::process::id(),
        start: start.clone(),
        instance: instance.to_string(),
    }
}

/// Whether the process behind `owner` (on this host) is alive.
pub(crate) fn liveness(owner: &Owner) -> Liveness {
    if !proc_available() {
        return Liveness::Unknown;
    }
    match start_token(&format!("/proc/{}/stat", owner.pid)) {
        // A pid now held by a process started at another time is the original one gone.
        Some(start) if start == owner.start => Liveness::Alive,
        _ => Liveness::Gone,
    }
}

/// Whether an account slot held for a job in `state`, by the process `owner` that claimed
/// the job, is free at once: that process is gone from this host (the claims' own check) and
/// the job is not (or may not be) generating on the server. A job that may be generating keeps
/// its slot until whoever takes the job over inherits it, or its lease runs out: freeing it
/// earlier would let another submit meet a 500044 (and teach `auto` too low a limit).
pub(crate) fn slot_owner_gone(owner: &Owner, state: pixfuse_core::lifecycle::JobState) -> bool {
    !state.may_be_generating() && owner.host == identity().0 && liveness(owner) == Liveness::Gone
}

/// (host name, this process's start token), read once.
fn identity() -> &'static (String, String) {
    static IDENTITY: OnceLock<(String, String)> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let host = read_trimmed("/proc/sys/kernel/hostname")
            .or_else(|| read_trimmed("/etc/hostname"))
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "localhost".to_owned());
        let start = start_token("/proc/self/stat").unwrap_or_else(|| "unknown".to_owned());
        (host, start)
    })
}

fn proc_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| std::path::Path::new("/proc/self/stat").is_file())
}

/// `<boot id>:<start time in clock ticks>` of the process whose `stat` file is `path`, or
/// `None` when there is no such (living) process.
fn start_token(path: &str) -> Option<String> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: the
    // fields after it start after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (the state), so field 22 (the start time) is fields[19].
    let state = fields.first()?;
    if matches!(*state, "Z" | "X" | "x") {
        return None; // a zombie or a dead process is gone for our purposes
    }
    let started = fields.get(19)?;
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{boot}:{started}"))
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `WHERE` clause (after `owner_instance = <instance>`) of a slot an instance gives up with
/// all its claims: not one whose job may still be generating — that slot stays under its
/// lease until the job is continued (see [`slot_owner_gone`]).
pub(crate) fn released_slot_filter() -> String {
    let states: Vec<String> = pixfuse_core::lifecycle::JobState::ALL
        .iter()
        .filter(|s| s.may_be_generating())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "(job_id IS NULL OR job_id NOT IN (SELECT id FROM jobs WHERE state IN ({})))",
        states.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_or_missing_pid_is_gone() {
        let me = this_process(Uuid::new_v4());
        if !proc_available() {
            assert_eq!(liveness(&me), Liveness::Unknown);
            return;
        }
        assert_eq!(liveness(&me), Liveness::Alive);
        let reused = Owner {
            start: "another-boot:1".into(),
            ..me.clone()
        };
        assert_eq!(liveness(&reused), Liveness::Gone);
        let missing = Owner {
            pid: u32::MAX - 7,
            ..me
        };
        assert_eq!(liveness(&missing), Liveness::Gone);
    }

    #[test]
    fn a_child_that_exited_is_gone() {
        if !proc_available() {
            return;
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_token(&format!("/proc/{pid}/stat"));
        child.wait().unwrap();
        let owner = Owner {
            host: "h".into(),
            pid,
            start: start.unwrap_or_default(),
            instance: "i".into(),
        };
        assert_eq!(liveness(&owner), Liveness::Gone);
    }
}
