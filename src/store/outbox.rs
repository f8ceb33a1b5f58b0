//! The notification outbox: messages are written here in the same breath as the decision
//! that caused them, and a sender drains it, so a crash between "decide to page" and
//! "page" loses nothing (the transactional-outbox pattern).
//!
//! At most one *unsent* message per `(channel, dedup_key)`: enqueueing it again while the
//! first waits is a no-op that returns the first. Once sent, the same key may be queued
//! anew (a second incident after the first resolved). Retries are scheduled by the
//! sender through [`Store::mark_failed`]; the backoff policy is the sender's, not the
//! store's.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::Timestamp;

/// A message waiting to be sent (or sent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub created_at: Timestamp,
    /// Where it goes: `pagerduty`, `slack`, ...
    pub channel: String,
    pub dedup_key: String,
    pub payload: serde_json::Value,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// What [`Store::enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as a new message with this id, due at once.
    New(i64),
    /// An unsent message with the same channel and dedup key was already queued (this id);
    /// it is left as it was, payload included.
    Duplicate(i64),
}

impl Enqueued {
    pub fn id(self) -> i64 {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

const SELECT_MESSAGE: &str =
    "SELECT id, created_at, channel, dedup_key, payload, attempts, next_attempt_at, sent_at FROM outbox";

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let payload: String = row.get(4)?;
    let payload = serde_json::from_str(&payload).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(OutboxMessage {
        id: row.get(0)?,
        created_at: row.get(1)?,
        channel: row.get(2)?,
        dedup_key: row.get(3)?,
        payload,
        attempts: row.get(5)?,
        next_attempt_at: row.get(6)?,
        sent_at: row.get(7)?,
    })
}

impl Store {
    /// Queues `payload` for `channel`, due at `now`, unless an unsent message with the same
    /// `(channel, dedup_key)` is already queued.
    pub fn enqueue(
        &self,
        channel: &str,
        dedup_key: &str,
        payload: &serde_json::Value,
        now: Timestamp,
    ) -> Result<Enqueued, StoreError> {
        let payload = serde_json::to_string(payload)?;
        self.write(|tx| {
            let queued = tx
                .query_row(
                    "SELECT id FROM outbox WHERE channel = ?1 AND dedup_key = ?2 AND sent_at IS NULL",
                    params![channel, dedup_key],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(id) = queued {
                return Ok(Enqueued::Duplicate(id));
            }
            tx.execute(
                "INSERT INTO outbox (created_at, channel, dedup_key, payload, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?1)",
                params![now, channel, dedup_key, payload],
            )?;
            Ok(Enqueued::New(tx.last_insert_rowid()))
        })
    }

    /// Up to `limit` unsent messages due at `now`, the longest-waiting first.
    pub fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_MESSAGE} WHERE sent_at IS NULL AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![now, limit], message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every message of `channel` still kept, sent or not, oldest first.
    pub fn outbox_messages(&self, channel: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{SELECT_MESSAGE} WHERE channel = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([channel], message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One message by id, sent or not.
    pub fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        let sql = format!("{SELECT_MESSAGE} WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], message_from_row).optional()?)
    }

    /// Records a delivery; false if there is no such unsent message (already sent, or
    /// pruned), which a sender racing another may see.
    pub fn mark_sent(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1 WHERE id = ?1 AND sent_at IS NULL",
                params![id, now],
            )? > 0)
        })
    }

    /// Records a failed attempt and when to try again; false if there is no such unsent
    /// message.
    pub fn mark_failed(&self, id: i64, next_attempt_at: Timestamp) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1 AND sent_at IS NULL",
                params![id, next_attempt_at],
            )? > 0)
        })
    }

    /// Deletes messages sent before `sent_before`; returns how many.
    pub fn prune_outbox(&self, sent_before: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM outbox WHERE sent_at < ?1", [sent_before])?))
    }
}
