//! The notification outbox: messages are written here in the same breath as the decision
//! that caused them, and each notifier drains its own rows, so a crash between "decide to
//! page" and "page" loses nothing (the transactional-outbox pattern). Alongside it, the
//! open page episodes ([`Store::open_pages`]): which alarms paged and are not resolved,
//! under which dedup key — what an engine restarting, or taking over a group's lease,
//! reads to resolve what another paged.
//!
//! - **One row per (notifier, message)**: PagerDuty and Slack each record their own
//!   delivery. A message is named by its `message_key` (an episode's trigger, its
//!   resolve, a post), unique per notifier for as long as the row is kept: enqueueing it
//!   again — a second engine, a retried tick — is a no-op that returns the first.
//! - **Claims**: [`Store::claim_due`] hands a row to one sender for a visibility timeout;
//!   a second sender asking meanwhile gets other rows, and a sender that died lets its
//!   claim lapse. [`Store::mark_sent`] (with the service's receipt), [`Store::mark_failed`]
//!   (retried later) and [`Store::mark_given_up`] (refused for good) end the claim.
//! - **Order per key**: rows of one notifier with the same `order_key` (a page's dedup
//!   key) are handed out one at a time, oldest first: never a resolve while its trigger
//!   is unsent, claimed or waiting to be retried. A row given up on no longer holds up
//!   the ones after it (a resolve of a trigger the service refused is harmless).
//!
//! The backoff policy is the sender's, not the store's.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::{Severity, Timestamp};

/// A message waiting to be sent (or sent), as one notifier's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub created_at: Timestamp,
    /// Which notifier sends it: a `[notifiers.NAME]` of the config.
    pub notifier: String,
    pub group: String,
    /// Names the message: unique per notifier.
    pub message_key: String,
    /// Messages with one order key are delivered in order (a page's dedup key).
    pub order_key: String,
    pub payload: serde_json::Value,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    /// Claimed by a sender until then (None: not claimed).
    pub claimed_until: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the service refused it for good: never retried, and no longer holding up the
    /// messages after it under its order key.
    pub given_up_at: Option<Timestamp>,
    /// What the service answered a sent message with, for follow-ups (Slack's channel ID
    /// and `ts`).
    pub receipt: Option<String>,
}

/// A message to queue, for every notifier named.
#[derive(Clone, Copy, Debug)]
pub struct NewMessage<'a> {
    pub group: &'a str,
    pub message_key: &'a str,
    pub order_key: &'a str,
    pub payload: &'a serde_json::Value,
}

/// What [`Store::enqueue`] did for one notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as a new row with this id, due at once.
    New(i64),
    /// That notifier already has this message (this id, sent or not); left as it was.
    Duplicate(i64),
}

impl Enqueued {
    pub fn id(self) -> i64 {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// An alarm that paged and has not resolved: the episode its trigger opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPage {
    pub group: String,
    pub alarm: String,
    /// The episode's dedup key: its resolve is sent under it.
    pub dedup_key: String,
    pub summary: String,
    /// When the alarm went FIRING.
    pub since: Timestamp,
    /// Its rule's severity when it paged.
    #[serde(default)]
    pub severity: Severity,
}

const SELECT_MESSAGE: &str = "SELECT id, created_at, channel, group_name, dedup_key, order_key, payload, attempts, \
                              next_attempt_at, claimed_until, sent_at, last_error, given_up_at, receipt FROM outbox";

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let payload: String = row.get(6)?;
    let payload = serde_json::from_str(&payload).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(OutboxMessage {
        id: row.get(0)?,
        created_at: row.get(1)?,
        notifier: row.get(2)?,
        group: row.get(3)?,
        message_key: row.get(4)?,
        order_key: row.get(5)?,
        payload,
        attempts: row.get(7)?,
        next_attempt_at: row.get(8)?,
        claimed_until: row.get(9)?,
        sent_at: row.get(10)?,
        last_error: row.get(11)?,
        given_up_at: row.get(12)?,
        receipt: row.get(13)?,
    })
}

impl Store {
    /// Queues `message` for each of `notifiers`, due at `now`, unless that notifier has it
    /// already. One transaction: every notifier gets it, or none.
    pub fn enqueue(
        &self,
        notifiers: &[&str],
        message: &NewMessage<'_>,
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let payload = serde_json::to_string(message.payload)?;
        self.write(|tx| {
            let mut out = Vec::with_capacity(notifiers.len());
            for notifier in notifiers {
                let queued = tx
                    .query_row(
                        "SELECT id FROM outbox WHERE channel = ?1 AND dedup_key = ?2",
                        params![notifier, message.message_key],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(id) = queued {
                    out.push(Enqueued::Duplicate(id));
                    continue;
                }
                tx.execute(
                    "INSERT INTO outbox (created_at, channel, group_name, dedup_key, order_key, payload, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?1)",
                    params![now, notifier, message.group, message.message_key, message.order_key, payload],
                )?;
                out.push(Enqueued::New(tx.last_insert_rowid()));
            }
            Ok(out)
        })
    }

    /// Claims up to `limit` of `notifier`'s unsent rows that are due and unclaimed at
    /// `now`, for `claim_for`: the longest-waiting first, and of each order key only its
    /// oldest unsent row (a later one waits until that one is sent).
    pub fn claim_due(
        &self,
        notifier: &str,
        now: Timestamp,
        limit: usize,
        claim_for: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let until = now.plus(claim_for);
        self.write(|tx| {
            let ids: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT o.id FROM outbox o
                     WHERE o.channel = ?1 AND o.sent_at IS NULL AND o.given_up_at IS NULL
                       AND o.next_attempt_at <= ?2
                       AND (o.claimed_until IS NULL OR o.claimed_until <= ?2)
                       AND NOT EXISTS (SELECT 1 FROM outbox e
                                       WHERE e.channel = o.channel AND e.order_key = o.order_key
                                         AND e.sent_at IS NULL AND e.given_up_at IS NULL AND e.id < o.id)
                     ORDER BY o.next_attempt_at, o.id LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![notifier, now, limit], |row| row.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut claimed = Vec::with_capacity(ids.len());
            for id in ids {
                tx.execute("UPDATE outbox SET claimed_until = ?2 WHERE id = ?1", params![id, until])?;
                let sql = format!("{SELECT_MESSAGE} WHERE id = ?1");
                claimed.push(tx.query_row(&sql, [id], message_from_row)?);
            }
            Ok(claimed)
        })
    }

    /// Every row of `notifier` still kept, sent or not, oldest first.
    pub fn outbox_messages(&self, notifier: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{SELECT_MESSAGE} WHERE channel = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([notifier], message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One row by id, sent or not.
    pub fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        let sql = format!("{SELECT_MESSAGE} WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], message_from_row).optional()?)
    }

    /// Records a delivery, with the service's receipt where it gave one, and ends the
    /// claim; false if there is no such unsent row (already sent, given up or pruned),
    /// which a sender whose claim lapsed may see.
    pub fn mark_sent(&self, id: i64, now: Timestamp, receipt: Option<&str>) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, claimed_until = NULL, receipt = ?3,
                   last_error = NULL
                 WHERE id = ?1 AND sent_at IS NULL AND given_up_at IS NULL",
                params![id, now, receipt],
            )? > 0)
        })
    }

    /// Records a failed attempt, why, and when to try again, and ends the claim; false if
    /// there is no such unsent row.
    pub fn mark_failed(&self, id: i64, next_attempt_at: Timestamp, error: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, claimed_until = NULL,
                   last_error = ?3
                 WHERE id = ?1 AND sent_at IS NULL AND given_up_at IS NULL",
                params![id, next_attempt_at, error],
            )? > 0)
        })
    }

    /// Records that the service refused the row for good (a 400: retrying cannot help):
    /// it is never tried again and the rows after it under its order key go on. False if
    /// there is no such unsent row.
    pub fn mark_given_up(&self, id: i64, now: Timestamp, error: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, given_up_at = ?2, claimed_until = NULL,
                   last_error = ?3
                 WHERE id = ?1 AND sent_at IS NULL AND given_up_at IS NULL",
                params![id, now, error],
            )? > 0)
        })
    }

    /// The receipt `notifier`'s service gave for the message `message_key`, if it was
    /// sent and is still kept (Slack's channel and `ts`, for a reply in its thread).
    pub fn receipt(&self, notifier: &str, message_key: &str) -> Result<Option<String>, StoreError> {
        let receipt: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT receipt FROM outbox WHERE channel = ?1 AND dedup_key = ?2 AND sent_at IS NOT NULL",
                params![notifier, message_key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(receipt.flatten())
    }

    /// How many of `notifier`'s rows wait to be sent, and how many it gave up on, of those
    /// kept.
    pub fn outbox_depth(&self, notifier: &str) -> Result<(usize, usize), StoreError> {
        let count = |sql: &str| -> Result<usize, StoreError> {
            let n: i64 = self.conn.query_row(sql, [notifier], |row| row.get(0))?;
            Ok(usize::try_from(n).unwrap_or_default())
        };
        let waiting = count(
            "SELECT count(*) FROM outbox WHERE channel = ?1 AND sent_at IS NULL AND given_up_at IS NULL",
        )?;
        let given_up = count("SELECT count(*) FROM outbox WHERE channel = ?1 AND given_up_at IS NOT NULL")?;
        Ok((waiting, given_up))
    }

    /// Deletes rows sent before `before`, and unsent rows queued before it (given up: a
    /// notifier that is gone from the config, or one that failed for the whole
    /// retention); returns (sent, given up).
    pub fn prune_outbox(&self, before: Timestamp) -> Result<(usize, usize), StoreError> {
        self.write(|tx| {
            let sent = tx.execute("DELETE FROM outbox WHERE sent_at < ?1 OR given_up_at < ?1", [before])?;
            let given_up =
                tx.execute("DELETE FROM outbox WHERE sent_at IS NULL AND created_at < ?1", [before])?;
            Ok((sent, given_up))
        })
    }

    /// Records that `page`'s alarm paged: its episode is open until [`Store::close_page`].
    pub fn open_page(&self, page: &OpenPage) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO open_pages (group_name, alarm, dedup_key, summary, since, severity)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    page.group,
                    page.alarm,
                    page.dedup_key,
                    page.summary,
                    page.since,
                    page.severity.word()
                ],
            )?;
            Ok(())
        })
    }

    /// Closes the episode `dedup_key` (its resolve is queued); false if it was not open.
    pub fn close_page(&self, dedup_key: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM open_pages WHERE dedup_key = ?1", [dedup_key])? > 0))
    }

    /// The open episodes of `group`.
    pub fn open_pages(&self, group: &str) -> Result<Vec<OpenPage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, alarm, dedup_key, summary, since, severity FROM open_pages WHERE group_name = ?1
             ORDER BY alarm",
        )?;
        let rows = stmt.query_map([group], |row| {
            Ok(OpenPage {
                group: row.get(0)?,
                alarm: row.get(1)?,
                dedup_key: row.get(2)?,
                summary: row.get(3)?,
                since: row.get(4)?,
                severity: Severity::from_word(&row.get::<_, String>(5)?).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
