//! Purge: stored copies deleted once they are old enough.
//!
//! A minimum age enters; a [`PurgeReport`] leaves. A stored copy (`done`)
//! is deleted under its row's lock: row `purging`, object removed, row
//! removed, so a crash in between is finished by recovery. A row of a file
//! restored earlier has no object any more: it is only forgotten, and
//! counted apart. `--dry-run` reports the same without changing anything.

use std::time::Duration;

use rusqlite::params;

use super::lock::OpLock;
use super::manifest::State;
use super::{Store, StoreError, unix_now};
use crate::actions::{fault, safe_fs};

/// What a purge did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Ids whose stored copy was deleted.
    pub deleted: Vec<String>,
    /// Ids of files restored earlier whose rows were removed.
    pub forgotten: Vec<String>,
    /// Ids left alone because another process was working on them.
    pub busy: Vec<String>,
}

impl Store {
    /// The end of a purge whose row is `purging` (the live purge and
    /// recovery both finish it this way): the object goes, then the row.
    pub(super) fn finish_purge(&self, id: &str) -> Result<(), StoreError> {
        self.unlink_object(id)?;
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        let changed = self
            .db
            .execute(
                "DELETE FROM items WHERE id = ?1 AND state = ?2",
                params![id, State::Purging],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, id, State::Purging)
    }

    /// Deletes the stored copies (and rows) of files quarantined more than
    /// `older_than` ago, and the rows of files restored that long ago.
    pub fn purge(&self, older_than: Duration, dry_run: bool) -> Result<PurgeReport, StoreError> {
        let cutoff = unix_now().saturating_sub(older_than.as_secs() as i64);
        let rows: Vec<(String, State)> = {
            let mut stmt = self
                .db
                .prepare(
                    "SELECT id, state FROM items WHERE time_unix <= ?1 AND state IN (?2, ?3) ORDER BY time_unix, id",
                )
                .map_err(self.mdb())?;
            stmt.query_map(params![cutoff, State::Done, State::Restored], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(self.mdb())?
        };
        let mut report = PurgeReport::default();
        for (id, state) in rows {
            if dry_run {
                match state {
                    State::Done => report.deleted.push(id),
                    _ => report.forgotten.push(id),
                }
                continue;
            }
            let Some(_lock) = OpLock::try_acquire(self.locks()?, &id)
                .map_err(self.io("cannot create a lock file"))?
            else {
                report.busy.push(id);
                continue;
            };
            match state {
                State::Done => {
                    // Mark first, so a crash between the two steps is
                    // finished by recovery instead of leaving a row
                    // without its object.
                    let changed = self
                        .db
                        .execute(
                            "UPDATE items SET state = ?3 WHERE id = ?1 AND state = ?2",
                            params![id, State::Done, State::Purging],
                        )
                        .map_err(self.mdb())?;
                    if changed != 1 {
                        // Restored or purged meanwhile by another process.
                        report.busy.push(id);
                        continue;
                    }
                    fault::point("purge:after-mark");
                    self.finish_purge(&id)?;
                    report.deleted.push(id);
                }
                _ => {
                    let changed = self
                        .db
                        .execute(
                            "DELETE FROM items WHERE id = ?1 AND state = ?2",
                            params![id, State::Restored],
                        )
                        .map_err(self.mdb())?;
                    if changed == 1 {
                        report.forgotten.push(id);
                    }
                }
            }
        }
        Ok(report)
    }
}
