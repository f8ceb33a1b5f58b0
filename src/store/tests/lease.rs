use std::sync::Barrier;
use std::time::Duration;

use super::{at, temp_db};
use crate::lease::{LeaseRecord, LeaseStore};
use crate::store::{SqliteLeaseStore, Store};

const TTL: Duration = Duration::from_secs(30);

/// `holder`'s record of `llama-70b`, renewed at `renewed`, version `version`.
fn record(holder: &str, renewed: i64, version: u64) -> LeaseRecord {
    LeaseRecord {
        group: "llama-70b".into(),
        holder: holder.into(),
        host: format!("{holder}-host"),
        acquired_at: at(0),
        renewed_at: at(renewed),
        expires_at: at(renewed).plus(TTL),
        ttl: TTL,
        version,
        revision: 0,
    }
}

#[test]
fn the_first_write_creates_the_record_at_revision_one_and_a_second_create_loses() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.lease("llama-70b").unwrap(), None);
    let written = store.put_lease(&record("daemon", 0, 1), None).unwrap().expect("created");
    assert_eq!(written, LeaseRecord { revision: 1, ..record("daemon", 0, 1) });
    assert_eq!(store.put_lease(&record("console", 0, 1), None).unwrap(), None, "it exists now");
    assert_eq!(store.lease("llama-70b").unwrap(), Some(written));
}

#[test]
fn a_write_needs_the_revision_it_read_and_each_write_raises_it() {
    let store = Store::open_in_memory().unwrap();
    let first = store.put_lease(&record("daemon", 0, 1), None).unwrap().unwrap();
    let renewed = store.put_lease(&record("daemon", 10, 1), Some(first.revision)).unwrap().unwrap();
    assert_eq!((renewed.revision, renewed.renewed_at), (2, at(10)));
    // A writer that read revision 1 lost to the renewal: it must read again.
    assert_eq!(store.put_lease(&record("console", 11, 2), Some(first.revision)).unwrap(), None);
    assert_eq!(store.lease("llama-70b").unwrap().unwrap().holder, "daemon");
}

#[test]
fn two_stores_on_one_file_see_each_others_writes() {
    let (_dir, path) = temp_db();
    let a = Store::open(&path).unwrap();
    let b = Store::open(&path).unwrap();
    let written = a.put_lease(&record("daemon", 0, 1), None).unwrap().unwrap();
    assert_eq!(b.lease("llama-70b").unwrap(), Some(written.clone()));
    let released = LeaseRecord { holder: String::new(), ..record("daemon", 5, 1) };
    let released = a.put_lease(&released, Some(written.revision)).unwrap().unwrap();
    let seen = b.lease("llama-70b").unwrap().unwrap();
    assert!(seen.is_free() && seen.version == 1, "{seen:?}");
    let taken = b.put_lease(&record("console", 6, 2), Some(released.revision)).unwrap().unwrap();
    assert_eq!(a.lease("llama-70b").unwrap(), Some(taken));
}

#[test]
fn racing_processes_let_exactly_one_write_win_from_each_revision() {
    let (_dir, path) = temp_db();
    let seed = Store::open(&path).unwrap();
    const RACERS: usize = 4;
    const GROUPS: usize = 20;
    // Half the groups have a record at revision 1 (an expired holder), half none.
    for g in (0..GROUPS).step_by(2) {
        let old = LeaseRecord { group: format!("g{g}"), ..record("gone", 0, 1) };
        seed.put_lease(&old, None).unwrap().unwrap();
    }
    let barrier = Barrier::new(RACERS);
    let wins: Vec<Vec<usize>> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || {
                    let store = Store::open(path).unwrap();
                    barrier.wait();
                    (0..GROUPS)
                        .filter(|g| {
                            let expected = (g % 2 == 0).then_some(1);
                            let mine = LeaseRecord {
                                group: format!("g{g}"),
                                ..record(&format!("engine-{racer}"), 40, 2)
                            };
                            store.put_lease(&mine, expected).unwrap().is_some()
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

#[tokio::test]
async fn the_async_store_answers_off_the_runtime_thread() {
    let (_dir, path) = temp_db();
    let leases = SqliteLeaseStore::new(Store::open(&path).unwrap());
    assert_eq!(leases.get("llama-70b").await.unwrap(), None);
    let written = leases.put(record("daemon", 0, 1), None).await.unwrap().unwrap();
    assert_eq!(leases.get("llama-70b").await.unwrap(), Some(written.clone()));
    let stale = leases.put(record("console", 1, 2), None).await.unwrap();
    assert_eq!(stale, None);
    // Another process's connection sees it.
    assert_eq!(Store::open(&path).unwrap().lease("llama-70b").unwrap(), Some(written));
}
