//! The lease keeper against an in-memory store with compare-and-swap, on a manual clock
//! whose monotonic time is its wall time (so "the holder's clock" and "ours" only differ
//! where a test writes a record by hand).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::clock::{Clock, ManualClock};

const TTL: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn timing() -> LeaseTiming {
    LeaseTiming { ttl: TTL, skew_margin: Duration::from_secs(2) }
}

fn me(name: &str) -> Identity {
    Identity { holder: name.into(), host: "host".into() }
}

/// Records in memory; `put` can be made slow (the clock moves while it "travels").
#[derive(Default)]
struct FakeLeases {
    records: Mutex<HashMap<String, LeaseRecord>>,
    clock: ManualClock,
    put_takes: Mutex<Duration>,
}

impl FakeLeases {
    fn new(clock: &ManualClock) -> Self {
        FakeLeases { clock: clock.clone(), ..FakeLeases::default() }
    }

    fn record(&self, group: &str) -> Option<LeaseRecord> {
        self.records.lock().unwrap().get(group).cloned()
    }
}

impl LeaseStore for FakeLeases {
    fn name(&self) -> &str {
        "fake"
    }

    fn get<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>> {
        Box::pin(std::future::ready(Ok(self.record(group))))
    }

    fn put<'a>(
        &'a self,
        record: LeaseRecord,
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>> {
        self.clock.advance(*self.put_takes.lock().unwrap());
        let mut records = self.records.lock().unwrap();
        let current = records.get(&record.group).map(|r| r.revision);
        let written = (current == expected).then(|| {
            let written = LeaseRecord { revision: current.unwrap_or(0) + 1, ..record };
            records.insert(written.group.clone(), written.clone());
            written
        });
        Box::pin(std::future::ready(Ok(written)))
    }
}

struct Engine {
    keeper: LeaseKeeper,
    me: Identity,
}

impl Engine {
    fn new(name: &str) -> Self {
        Engine { keeper: LeaseKeeper::default(), me: me(name) }
    }

    async fn round(&mut self, store: &FakeLeases, clock: &ManualClock) -> Round {
        let at = Reading::of(clock);
        self.keeper.round(store, "llm-chat", &self.me, &timing(), true, at).await.unwrap()
    }

    fn may_act(&self, clock: &ManualClock) -> bool {
        self.keeper.may_act(clock.monotonic(), &timing(), CALL_TIMEOUT)
    }
}

fn start() -> ManualClock {
    ManualClock::new(Timestamp::from_millis(1_767_225_600_000))
}

#[tokio::test]
async fn a_free_lease_is_taken_at_version_one_and_renewals_keep_the_version() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    let mut a = Engine::new("a");
    assert_eq!(a.round(&store, &clock).await, Round::Ours { taken: true, taken_from: None });
    assert!(a.may_act(&clock));
    clock.advance(Duration::from_secs(5));
    assert_eq!(a.round(&store, &clock).await, Round::Ours { taken: false, taken_from: None });
    let record = store.record("llm-chat").unwrap();
    assert_eq!((record.holder.as_str(), record.version, record.revision), ("a", 1, 2));
    assert_eq!(record.renewed_at, clock.now(), "renewed with the time of the renew");
    assert_eq!(record.expires_at, clock.now().plus(TTL));
}

#[tokio::test]
async fn another_holders_lease_is_taken_only_after_it_stood_unchanged_for_its_ttl_on_our_clock() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    // A holder that stopped long ago by its own clock: its expires_at is an hour past.
    let hour = Duration::from_secs(3600);
    let stale = LeaseRecord {
        group: "llm-chat".into(),
        holder: "gone".into(),
        host: "elsewhere".into(),
        acquired_at: clock.now().minus(hour),
        renewed_at: clock.now().minus(hour),
        expires_at: clock.now().minus(hour).plus(TTL),
        ttl: TTL,
        version: 7,
        revision: 0,
    };
    store.put(stale, None).await.unwrap().unwrap();
    let mut b = Engine::new("b");
    assert_eq!(b.round(&store, &clock).await, Round::Theirs, "first seen now: wait a whole ttl");
    assert!(!b.may_act(&clock));
    clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(b.round(&store, &clock).await, Round::Theirs);
    clock.advance(Duration::from_secs(1));
    let round = b.round(&store, &clock).await;
    assert_eq!(round, Round::Ours { taken: true, taken_from: Some("gone".into()) });
    assert_eq!(store.record("llm-chat").unwrap().version, 8, "a new holder raises the fencing version");
    assert!(b.may_act(&clock));
}

#[tokio::test]
async fn a_holder_that_keeps_renewing_is_never_taken_over() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    let (mut a, mut b) = (Engine::new("a"), Engine::new("b"));
    a.round(&store, &clock).await;
    for _ in 0..20 {
        clock.advance(Duration::from_secs(10));
        assert!(matches!(a.round(&store, &clock).await, Round::Ours { .. }));
        assert_eq!(b.round(&store, &clock).await, Round::Theirs);
        assert!(a.may_act(&clock) && !b.may_act(&clock));
    }
    assert_eq!(b.keeper.holder().unwrap().holder, "a", "the observer shows who acts");
}

#[tokio::test]
async fn time_left_counts_from_when_the_renew_was_sent() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    let mut a = Engine::new("a");
    // The store takes 25 s of the 30 s ttl to answer: 5 s are left, under the 12 s a
    // call needs (10 s timeout + 2 s skew), so nothing is started on this lease.
    *store.put_takes.lock().unwrap() = Duration::from_secs(25);
    assert_eq!(a.round(&store, &clock).await, Round::Ours { taken: true, taken_from: None });
    assert_eq!(a.keeper.time_left(clock.monotonic()), Duration::from_secs(5));
    assert!(!a.may_act(&clock));
    let (held, pages) = authority(&a.keeper, true, true, &a.me, clock.monotonic(), &timing(), CALL_TIMEOUT);
    assert!(
        matches!(&held, Authority::NoLease { why } if why.contains("our lease has 5s left, under the 12s")),
        "{held:?}"
    );
    assert!(pages, "the holder still pages");
    // A quick renew gives the whole ttl again.
    *store.put_takes.lock().unwrap() = Duration::ZERO;
    a.round(&store, &clock).await;
    assert!(a.may_act(&clock));
}

#[tokio::test]
async fn release_frees_the_record_and_the_next_holder_takes_it_at_once_with_a_higher_version() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    let (mut a, mut b) = (Engine::new("a"), Engine::new("b"));
    a.round(&store, &clock).await;
    assert_eq!(b.round(&store, &clock).await, Round::Theirs);
    assert!(a.keeper.release(&store, &a.me, clock.now()).await.unwrap());
    assert!(!a.may_act(&clock));
    let record = store.record("llm-chat").unwrap();
    assert!(record.is_free() && record.version == 1, "{record:?}");
    assert_eq!(b.round(&store, &clock).await, Round::Ours { taken: true, taken_from: None });
    assert_eq!(store.record("llm-chat").unwrap().version, 2);
    assert!(!a.keeper.release(&store, &a.me, clock.now()).await.unwrap(), "not a's to release any more");
    assert_eq!(store.record("llm-chat").unwrap().holder, "b");
}

#[tokio::test]
async fn of_two_engines_racing_for_a_free_lease_the_one_whose_write_lands_second_does_not_hold_it() {
    let clock = start();
    let store = FakeLeases::new(&clock);
    let (mut a, mut b) = (Engine::new("a"), Engine::new("b"));
    // Both read "no record"; a writes first; b's write, conditional on "no record", loses.
    let now = clock.now();
    let read_by_b = store.record("llm-chat");
    assert!(read_by_b.is_none());
    a.round(&store, &clock).await;
    let lost = store.put(
        LeaseRecord {
            group: "llm-chat".into(),
            holder: "b".into(),
            host: "host".into(),
            acquired_at: now,
            renewed_at: now,
            expires_at: now.plus(TTL),
            ttl: TTL,
            version: 1,
            revision: 0,
        },
        None,
    );
    assert_eq!(lost.await.unwrap(), None);
    assert_eq!(b.round(&store, &clock).await, Round::Theirs);
    assert!(a.may_act(&clock) && !b.may_act(&clock));
}

#[test]
fn without_a_store_a_real_backend_is_only_observed_and_the_simulator_is_acted_on() {
    let keeper = LeaseKeeper::default();
    let mono = Duration::from_secs(100);
    let (real, pages) = authority(&keeper, true, false, &me("a"), mono, &timing(), CALL_TIMEOUT);
    assert!(matches!(&real, Authority::NoLease { why } if why.contains("no state store")), "{real:?}");
    assert!(!pages);
    let (sim, pages) = authority(&keeper, false, false, &me("a"), mono, &timing(), CALL_TIMEOUT);
    assert_eq!((sim, pages), (Authority::Act, true));
}

#[test]
fn a_holder_of_this_host_whose_process_is_gone_is_known_to_have_stopped() {
    let me = Identity { holder: "ana@ops:1".into(), host: "ops".into() };
    let record = |holder: &str, host: &str| LeaseRecord {
        group: "llm-chat".into(),
        holder: holder.into(),
        host: host.into(),
        acquired_at: Timestamp::from_millis(0),
        renewed_at: Timestamp::from_millis(0),
        expires_at: Timestamp::from_millis(0),
        ttl: TTL,
        version: 1,
        revision: 1,
    };
    // No process has a pid this high (Linux caps pids at 2^22).
    let dead = format!("ana@ops:{}", u32::MAX);
    assert_eq!(me.holder_is_gone(&record(&dead, "ops")), cfg!(target_os = "linux"));
    let alive = format!("ana@ops:{}", std::process::id());
    assert!(!me.holder_is_gone(&record(&alive, "ops")), "this test's own process runs");
    assert!(
        !me.holder_is_gone(&record(&dead, "elsewhere")),
        "another host's processes are not ours to judge"
    );
    assert!(!me.holder_is_gone(&record("daemon", "ops")), "no pid, no judgement");
}
