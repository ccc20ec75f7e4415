//! Who may drive a job: the owner's claim and when it counts as expired.
//!
//! A claim names its owner (host, process id, process start time, a random instance id) and
//! carries a lease the owner keeps renewing. Another process takes the job over once the lease
//! has run out — or at once when the owner ran on the same host and its process is gone (or the
//! pid now belongs to a process started at another time), so a rerun right after a crash need
//! not wait for the lease. Whether a local process is alive is the caller's to find out.

/// The owner recorded with a claim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Host name.
    pub host: String,
    /// Process id on that host.
    pub pid: u32,
    /// When the process started, in a form stable for the life of the process (e.g. the boot
    /// id and the start time in clock ticks): tells a reused pid from the original process.
    pub start: String,
    /// Random id of the claiming instance (one per client), so two clients in one process are
    /// two owners.
    pub instance: String,
}

/// A claim as the journal has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Who holds it.
    pub owner: Owner,
    /// Unix milliseconds until which the lease runs.
    pub lease_until_ms: i64,
}

/// What the caller found out about a process on its own host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liveness {
    /// A process with this pid and this start time is running.
    Alive,
    /// No such process (or the pid belongs to a process started at another time).
    Gone,
    /// The platform cannot tell: rely on the lease.
    Unknown,
}

/// Whether a claim stops others from driving its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimStatus {
    /// The claim is the asker's own.
    Mine,
    /// Another live owner holds the job: do not submit; wait for it.
    Held,
    /// The owner is gone or its lease ran out: the job may be taken over (same trace id).
    Expired,
}

impl Claim {
    /// Judges this claim for `me` at `now_ms`. `probe` answers for an owner on `me`'s host and
    /// is only asked when the answer matters.
    pub fn status(
        &self,
        me: &Owner,
        now_ms: i64,
        probe: impl FnOnce(&Owner) -> Liveness,
    ) -> ClaimStatus {
        if self.owner.instance == me.instance {
            return ClaimStatus::Mine;
        }
        if now_ms >= self.lease_until_ms {
            return ClaimStatus::Expired;
        }
        if self.owner.host != me.host {
            return ClaimStatus::Held;
        }
        match probe(&self.owner) {
            Liveness::Gone => ClaimStatus::Expired,
            Liveness::Alive | Liveness::Unknown => ClaimStatus::Held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: &str, pid: u32, instance: &str) -> Owner {
        Owner {
            host: host.into(),
            pid,
            start: "boot:100".into(),
            instance: instance.into(),
        }
    }

    fn claim(host: &str, pid: u32, instance: &str, until: i64) -> Claim {
        Claim {
            owner: owner(host, pid, instance),
            lease_until_ms: until,
        }
    }

    #[test]
    fn a_live_lease_holds_until_it_runs_out() {
        let me = owner("a", 1, "me");
        let other_host = claim("b", 2, "x", 1_000);
        let never = |_: &Owner| -> Liveness { panic!("another host is never probed") };
        assert_eq!(other_host.status(&me, 999, never), ClaimStatus::Held);
        assert_eq!(
            other_host.status(&me, 1_000, |_| Liveness::Alive),
            ClaimStatus::Expired
        );
    }

    #[test]
    fn a_gone_local_owner_expires_at_once() {
        let me = owner("a", 1, "me");
        let local = claim("a", 2, "x", 1_000_000);
        assert_eq!(
            local.status(&me, 0, |_| Liveness::Gone),
            ClaimStatus::Expired
        );
        assert_eq!(local.status(&me, 0, |_| Liveness::Alive), ClaimStatus::Held);
        assert_eq!(
            local.status(&me, 0, |_| Liveness::Unknown),
            ClaimStatus::Held
        );
    }

    #[test]
    fn my_own_claim_is_mine_even_when_expired() {
        let me = owner("a", 1, "me");
        assert_eq!(
            claim("a", 1, "me", 0).status(&me, 5, |_| Liveness::Gone),
            ClaimStatus::Mine
        );
        // Same process, another client: another owner.
        assert_eq!(
            claim("a", 1, "other", 10).status(&me, 5, |_| Liveness::Alive),
            ClaimStatus::Held
        );
    }
}
