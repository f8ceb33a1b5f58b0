use super::{at, temp_db};
use crate::policy::{Hold, Pause, PauseMode};
use crate::store::{BreakerKind, BreakerTrip, GLOBAL, Silence, Store, TripMode};

fn pause(by: &str, until: Option<i64>) -> Pause {
    Pause { mode: PauseMode::ScaleInOnly, by: by.into(), until: until.map(at), reason: "incident 42".into() }
}

fn hold(desired: u32, until: i64) -> Hold {
    Hold { desired, until: at(until), beyond_max: true, by: "ana".into() }
}

fn silence(group: &str, until: i64) -> Silence {
    Silence { group: group.into(), until: at(until), by: "ana".into(), reason: "maintenance".into() }
}

fn trip(group: &str, kind: BreakerKind) -> BreakerTrip {
    BreakerTrip {
        group: group.into(),
        kind,
        mode: TripMode::ScaleOutOnly,
        since: at(10),
        cause: "hourly cost 130 USD > budget 120 USD".into(),
        reset_condition: "under budget".into(),
    }
}

#[test]
fn pauses_holds_silences_and_trips_survive_a_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        store.set_pause("llama-70b", &pause("ana", Some(3600)), at(10)).unwrap();
        store.set_hold("llama-70b", &hold(12, 600), "launch day").unwrap();
        store.set_silence(&silence("mistral-7b", 900)).unwrap();
        store.set_trip(&trip("mistral-7b", BreakerKind::Budget)).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let now = at(20);
    let pauses = store.pauses(now).unwrap();
    assert_eq!(pauses.len(), 1);
    assert_eq!(
        (pauses[0].group.as_str(), &pauses[0].pause, pauses[0].since),
        ("llama-70b", &pause("ana", Some(3600)), at(10))
    );
    let holds = store.holds(now).unwrap();
    assert_eq!(holds.len(), 1);
    assert_eq!((holds[0].hold.clone(), holds[0].reason.as_str()), (hold(12, 600), "launch day"));
    assert_eq!(store.silences(now).unwrap(), vec![silence("mistral-7b", 900)]);
    assert_eq!(store.trips().unwrap(), vec![trip("mistral-7b", BreakerKind::Budget)]);
}

#[test]
fn expired_pauses_holds_and_silences_are_not_returned() {
    let store = Store::open_in_memory().unwrap();
    store.set_pause("a", &pause("ana", Some(100)), at(0)).unwrap();
    store.set_hold("a", &hold(3, 100), "").unwrap();
    store.set_silence(&silence("a", 100)).unwrap();
    let before = at(99);
    assert_eq!(store.pauses(before).unwrap().len(), 1);
    assert_eq!(store.holds(before).unwrap().len(), 1);
    assert_eq!(store.silences(before).unwrap().len(), 1);
    // `until` is the first instant it no longer applies, as in `Pause::is_active`.
    let expiry = at(100);
    assert!(!pause("ana", Some(100)).is_active(expiry));
    assert!(store.pauses(expiry).unwrap().is_empty());
    assert!(store.holds(expiry).unwrap().is_empty());
    assert!(store.silences(expiry).unwrap().is_empty());
}

#[test]
fn a_pause_without_an_end_lasts_until_cleared() {
    let store = Store::open_in_memory().unwrap();
    store.set_pause("a", &pause("ana", None), at(0)).unwrap();
    assert_eq!(store.pauses(at(10_000_000)).unwrap().len(), 1);
    assert!(store.clear_pause("a", at(10_000_000)).unwrap());
    assert!(store.pauses(at(0)).unwrap().is_empty());
}

#[test]
fn the_global_pause_is_listed_first() {
    let store = Store::open_in_memory().unwrap();
    store.set_pause("(canary)", &pause("bo", None), at(0)).unwrap();
    store.set_pause(GLOBAL, &pause("ana", None), at(0)).unwrap();
    let groups: Vec<String> = store.pauses(at(1)).unwrap().into_iter().map(|p| p.group).collect();
    assert_eq!(groups, vec![GLOBAL.to_string(), "(canary)".to_string()]);
}

#[test]
fn setting_a_pause_again_replaces_the_previous_one() {
    let store = Store::open_in_memory().unwrap();
    store.set_pause("a", &pause("ana", None), at(0)).unwrap();
    let full = Pause { mode: PauseMode::Full, ..pause("bo", Some(50)) };
    store.set_pause("a", &full, at(5)).unwrap();
    let pauses = store.pauses(at(6)).unwrap();
    assert_eq!(pauses.len(), 1);
    assert_eq!((&pauses[0].pause, pauses[0].since), (&full, at(5)));
}

#[test]
fn clearing_reports_whether_something_active_was_cleared() {
    let store = Store::open_in_memory().unwrap();
    assert!(!store.clear_pause("a", at(0)).unwrap());
    store.set_hold("a", &hold(3, 100), "").unwrap();
    assert!(!store.clear_hold("a", at(100)).unwrap(), "an expired hold is not active");
    assert!(!store.clear_hold("a", at(0)).unwrap(), "and clearing it removed it");
    store.set_silence(&silence("a", 100)).unwrap();
    assert!(store.clear_silence("a", at(0)).unwrap());
    assert!(store.silences(at(0)).unwrap().is_empty());
}

#[test]
fn prune_expired_deletes_only_what_has_expired() {
    let store = Store::open_in_memory().unwrap();
    store.set_pause("a", &pause("ana", Some(100)), at(0)).unwrap();
    store.set_pause("b", &pause("ana", None), at(0)).unwrap();
    store.set_hold("a", &hold(3, 100), "").unwrap();
    store.set_hold("b", &hold(3, 200), "").unwrap();
    store.set_silence(&silence("a", 100)).unwrap();
    assert_eq!(store.prune_expired(at(150)).unwrap(), 3);
    let count = |table: &str| -> i64 {
        store.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).unwrap()
    };
    assert_eq!((count("pauses"), count("holds"), count("silences")), (1, 1, 0));
}

#[test]
fn trips_are_kept_per_group_and_kind_and_cleared_one_at_a_time() {
    let store = Store::open_in_memory().unwrap();
    store.set_trip(&trip("a", BreakerKind::Budget)).unwrap();
    store.set_trip(&trip("a", BreakerKind::StaleData)).unwrap();
    let flapping = BreakerTrip { mode: TripMode::Full, since: at(20), ..trip("a", BreakerKind::Budget) };
    store.set_trip(&flapping).unwrap();
    let trips = store.trips().unwrap();
    assert_eq!(trips.len(), 2, "{trips:?}");
    assert!(trips.contains(&flapping), "same kind replaces");
    assert!(store.clear_trip("a", BreakerKind::StaleData).unwrap());
    assert!(!store.clear_trip("a", BreakerKind::StaleData).unwrap());
    assert_eq!(store.trips().unwrap(), vec![flapping]);
}
