use std::sync::Barrier;
use std::time::Duration;

use super::{at, temp_db};
use crate::store::{Lease, LeaseOutcome, LeaseRecord, Store};

const TTL: Duration = Duration::from_secs(30);

fn acquire(lease: &impl Lease<Error = crate::store::StoreError>, holder: &str, now: i64) -> LeaseOutcome {
    lease.try_acquire("llama-70b", holder, &format!("{holder}-host"), TTL, at(now)).unwrap()
}

fn record(holder: &str, acquired_at: i64, expires_at: i64) -> LeaseRecord {
    LeaseRecord {
        group: "llama-70b".into(),
        holder: holder.into(),
        host: format!("{holder}-host"),
        acquired_at: at(acquired_at),
        expires_at: at(expires_at),
    }
}

#[test]
fn the_first_caller_acquires_a_free_lease() {
    let store = Store::open_in_memory().unwrap();
    let outcome = acquire(&store, "daemon", 0);
    assert_eq!(outcome, LeaseOutcome::Acquired { lease: record("daemon", 0, 30), expired: None });
    assert!(outcome.is_ours());
    assert_eq!(store.holder("llama-70b", at(1)).unwrap(), Some(record("daemon", 0, 30)));
}

#[test]
fn a_second_caller_sees_the_current_holder() {
    let store = Store::open_in_memory().unwrap();
    acquire(&store, "daemon", 0);
    let outcome = acquire(&store, "console", 10);
    assert_eq!(outcome, LeaseOutcome::HeldBy(record("daemon", 0, 30)));
    assert!(!outcome.is_ours());
}

#[test]
fn renewal_by_the_holder_extends_the_expiry_and_keeps_the_start() {
    let store = Store::open_in_memory().unwrap();
    acquire(&store, "daemon", 0);
    assert_eq!(acquire(&store, "daemon", 20), LeaseOutcome::Renewed(record("daemon", 0, 50)));
    assert_eq!(acquire(&store, "console", 40), LeaseOutcome::HeldBy(record("daemon", 0, 50)));
}

#[test]
fn an_expired_lease_is_taken_over_and_names_the_previous_holder() {
    let store = Store::open_in_memory().unwrap();
    acquire(&store, "daemon", 0);
    assert_eq!(store.holder("llama-70b", at(30)).unwrap(), None, "expired at expires_at");
    assert_eq!(
        acquire(&store, "console", 30),
        LeaseOutcome::Acquired { lease: record("console", 30, 60), expired: Some(record("daemon", 0, 30)) }
    );
    assert_eq!(acquire(&store, "daemon", 31), LeaseOutcome::HeldBy(record("console", 30, 60)));
}

#[test]
fn only_the_holder_can_release() {
    let store = Store::open_in_memory().unwrap();
    acquire(&store, "daemon", 0);
    assert!(!store.release("llama-70b", "console").unwrap());
    assert_eq!(store.holder("llama-70b", at(1)).unwrap(), Some(record("daemon", 0, 30)));
    assert!(store.release("llama-70b", "daemon").unwrap());
    assert_eq!(store.holder("llama-70b", at(1)).unwrap(), None);
    assert!(acquire(&store, "console", 2).is_ours(), "released means free before expiry");
}

#[test]
fn leases_are_per_group() {
    let store = Store::open_in_memory().unwrap();
    acquire(&store, "daemon", 0);
    assert!(store.try_acquire("mistral-7b", "console", "h", TTL, at(1)).unwrap().is_ours());
}

#[test]
fn two_stores_on_one_file_see_each_others_leases() {
    let (_dir, path) = temp_db();
    let a = Store::open(&path).unwrap();
    let b = Store::open(&path).unwrap();
    assert!(acquire(&a, "daemon", 0).is_ours());
    assert_eq!(acquire(&b, "console", 1), LeaseOutcome::HeldBy(record("daemon", 0, 30)));
    assert_eq!(acquire(&a, "daemon", 20), LeaseOutcome::Renewed(record("daemon", 0, 50)));
    assert_eq!(b.holder("llama-70b", at(21)).unwrap(), Some(record("daemon", 0, 50)));
    assert!(a.release("llama-70b", "daemon").unwrap());
    assert!(acquire(&b, "console", 22).is_ours());
    assert_eq!(acquire(&a, "daemon", 23), LeaseOutcome::HeldBy(record("console", 22, 52)));
}

#[test]
fn racing_processes_let_exactly_one_take_each_lease() {
    let (_dir, path) = temp_db();
    Store::open(&path).unwrap();
    const RACERS: usize = 4;
    const GROUPS: usize = 20;
    let barrier = Barrier::new(RACERS);
    let wins: Vec<Vec<usize>> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || {
                    let store = Store::open(path).unwrap();
                    let holder = format!("engine-{racer}");
                    barrier.wait();
                    (0..GROUPS)
                        .filter(|g| {
                            store
                                .try_acquire(&format!("g{g}"), &holder, "host", TTL, at(0))
                                .unwrap()
                                .is_ours()
                        })
                        .collect()
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for g in 0..GROUPS {
        let winners = wins.iter().filter(|won| won.contains(&g)).count();
        assert_eq!(winners, 1, "group g{g}: {wins:?}");
    }
}
