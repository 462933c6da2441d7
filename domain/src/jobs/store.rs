//! Jobs in the database: enqueue, claim with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! so any number of instances share one queue and a job runs once), heartbeat, progress, items,
//! log lines, finish, cancel and retry.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Job, JobItem, JobStatus, LogLine, NewJob};
use crate::{clock, Backend, Database, Error, Result};

const JOB_COLUMNS: &str = "id, kind, params, owner_id, owner, status, progress, step, steps_done, result, error, \
     attempts, cancel_requested, retry_of, lease_owner, lease_until, created_at, started_at, finished_at, updated_at";

#[derive(Debug, Clone)]
pub struct JobStore {
    db: Database,
}

/// Filters for listing jobs.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    /// Only this owner's jobs (`None`: everyone's).
    pub owner_id: Option<i64>,
    /// Only jobs of the user with this name (a filter for those who see everyone's).
    pub owner: Option<String>,
}

impl JobStore {
    pub fn new(db: Database) -> Self {
        JobStore { db }
    }

    pub async fn enqueue(&self, new: &NewJob) -> Result<Job> {
        let now = clock::now_ms();
        let params = serde_json::to_string(&new.params).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.db.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs (kind, params, owner_id, owner, status, retry_of, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) RETURNING id",
        )
        .bind(&new.kind)
        .bind(&params)
        .bind(new.owner_id)
        .bind(&new.owner)
        .bind(new.retry_of)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for (i, name) in new.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO job_items (job_id, position, name, status, updated_at) VALUES ($1, $2, $3, 'queued', $4)",
            )
            .bind(id)
            .bind(i64::try_from(i).unwrap_or(0))
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.get(id).await?.ok_or_else(|| Error::Internal("job vanished right after insert".into()))
    }

    pub async fn get(&self, id: i64) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Takes the oldest runnable job of `kinds`: queued, or running with an expired lease (its
    /// instance died). The claim and the lease are one statement, so two instances never take
    /// the same job.
    pub async fn claim(&self, instance: &str, kinds: &[String], lease_ms: i64) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let now = clock::now_ms();
        let kind_list = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
        let pick = format!(
            "SELECT id FROM jobs WHERE kind IN ({kind_list}) AND \
             (status = 'queued' OR (status = 'running' AND lease_until < $3)) ORDER BY id LIMIT 1"
        );
        let pick = match self.db.backend() {
            // Rows another instance is claiming right now are skipped, not waited for.
            Backend::Postgres => format!("{pick} FOR UPDATE SKIP LOCKED"),
            // SQLite runs one writer at a time: the UPDATE below is atomic on its own.
            Backend::Sqlite => pick,
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             started_at = COALESCE(started_at, $3), updated_at = $3 WHERE id = ({pick}) RETURNING {JOB_COLUMNS}"
        );
        let mut q = sqlx::query(&sql).bind(instance).bind(now + lease_ms).bind(now);
        for k in kinds {
            q = q.bind(k);
        }
        let row = q.fetch_optional(self.db.pool()).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Frees, at once, the jobs still claimed by earlier runs of this instance's `seat` (a host
    /// and listen address only one live process can hold; see `RunnerConfig::seat`): a restarted
    /// process resumes its own work now rather than after the dead run's lease. `instance` is
    /// this run's name (`SEAT/BOOT`), whose own claims are left alone. Returns how many.
    pub async fn release_seat(&self, seat: &str, instance: &str) -> Result<u64> {
        let prefix = format!("{seat}/");
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = 0 WHERE status = 'running' AND lease_owner <> $1 \
             AND substr(lease_owner, 1, length($2)) = $2",
        )
        .bind(instance)
        .bind(&prefix)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Extends the lease; `false` if this instance no longer holds the job (it was taken over).
    pub async fn heartbeat(&self, id: i64, instance: &str, lease_ms: i64) -> Result<bool> {
        let now = clock::now_ms();
        let done =
            sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'")
                .bind(now + lease_ms)
                .bind(id)
                .bind(instance)
                .execute(self.db.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a finished step: the resume point, progress and the next step's label.
    pub async fn step_done(&self, id: i64, steps_done: i64, progress: i64, next_step: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET steps_done = $1, progress = $2, step = $3, updated_at = $4 WHERE id = $5")
            .bind(steps_done)
            .bind(progress.clamp(0, 100))
            .bind(next_step)
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Progress of a job whose items run side by side (not counted in steps).
    pub async fn set_progress(&self, id: i64, progress: i64, step: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET progress = $1, step = $2, updated_at = $3 WHERE id = $4")
            .bind(progress.clamp(0, 100))
            .bind(step)
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_step(&self, id: i64, step: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET step = $1, updated_at = $2 WHERE id = $3")
            .bind(step)
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn finish(
        &self,
        id: i64,
        status: JobStatus,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = clock::now_ms();
        let progress = if status == JobStatus::Succeeded { 100 } else { -1 };
        sqlx::query(
            "UPDATE jobs SET status = $1, result = $2, error = $3, finished_at = $4, updated_at = $4, lease_owner = NULL, \
             lease_until = NULL, progress = CASE WHEN $5 >= 0 THEN $5 ELSE progress END WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(result.map(|r| r.to_string()))
        .bind(error)
        .bind(now)
        .bind(progress)
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn items(&self, job_id: i64) -> Result<Vec<JobItem>> {
        let rows = sqlx::query(
            "SELECT position, name, status, result, error FROM job_items WHERE job_id = $1 ORDER BY position",
        )
        .bind(job_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let result: Option<String> = r.try_get("result")?;
                Ok(JobItem {
                    position: r.try_get("position")?,
                    name: r.try_get("name")?,
                    status: r.try_get("status")?,
                    result: result.and_then(|s| serde_json::from_str(&s).ok()),
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// The items of `kind` jobs that are unfinished, or whose item changed after `since` (ms),
    /// oldest job first, with when each item last changed: "is this server being backed up,
    /// and how did its last backup end".
    pub async fn recent_items(&self, kind: &str, since: i64) -> Result<Vec<(Job, JobItem, i64)>> {
        let rows = sqlx::query(
            "SELECT i.job_id, i.position, i.name, i.status, i.result, i.error, i.updated_at FROM job_items i \
             JOIN jobs j ON j.id = i.job_id \
             WHERE j.kind = $1 AND (j.status IN ('queued', 'running') OR i.updated_at >= $2) \
             ORDER BY i.job_id, i.position",
        )
        .bind(kind)
        .bind(since)
        .fetch_all(self.db.pool())
        .await?;
        let mut jobs: std::collections::HashMap<i64, Job> = std::collections::HashMap::new();
        let mut out: Vec<(Job, JobItem, i64)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let job_id: i64 = r.try_get("job_id")?;
            if let std::collections::hash_map::Entry::Vacant(slot) = jobs.entry(job_id) {
                match self.get(job_id).await? {
                    Some(job) => slot.insert(job),
                    None => continue,
                };
            }
            let result: Option<String> = r.try_get("result")?;
            let item = JobItem {
                position: r.try_get("position")?,
                name: r.try_get("name")?,
                status: r.try_get("status")?,
                result: result.and_then(|s| serde_json::from_str(&s).ok()),
                error: r.try_get("error")?,
            };
            if let Some(job) = jobs.get(&job_id) {
                out.push((job.clone(), item, r.try_get("updated_at")?));
            }
        }
        Ok(out)
    }

    pub async fn set_item(
        &self,
        job_id: i64,
        position: i64,
        status: &str,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE job_items SET status = $1, result = $2, error = $3, updated_at = $4 WHERE job_id = $5 AND position = $6")
            .bind(status)
            .bind(result.map(|r| r.to_string()))
            .bind(error)
            .bind(clock::now_ms())
            .bind(job_id)
            .bind(position)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn log(&self, job_id: i64, level: &str, item: Option<&str>, line: &str) -> Result<()> {
        sqlx::query("INSERT INTO job_logs (job_id, at, level, item, line) VALUES ($1, $2, $3, $4, $5)")
            .bind(job_id)
            .bind(clock::now_ms())
            .bind(level)
            .bind(item)
            .bind(line)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The newest `limit` log lines about one item (a server) across all jobs, oldest first,
    /// with each line's job id and kind.
    pub async fn item_logs(&self, item: &str, limit: i64) -> Result<Vec<(i64, String, LogLine)>> {
        let rows = sqlx::query(
            "SELECT l.job_id, j.kind, l.at, l.level, l.item, l.line FROM job_logs l JOIN jobs j ON j.id = l.job_id \
             WHERE l.item = $1 ORDER BY l.id DESC LIMIT $2",
        )
        .bind(item)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let line = LogLine {
                    at: r.try_get("at")?,
                    level: r.try_get("level")?,
                    item: r.try_get("item")?,
                    line: r.try_get("line")?,
                };
                Ok((r.try_get("job_id")?, r.try_get("kind")?, line))
            })
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    pub async fn logs(&self, job_id: i64) -> Result<Vec<LogLine>> {
        let rows = sqlx::query("SELECT at, level, item, line FROM job_logs WHERE job_id = $1 ORDER BY id")
            .bind(job_id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LogLine {
                    at: r.try_get("at")?,
                    level: r.try_get("level")?,
                    item: r.try_get("item")?,
                    line: r.try_get("line")?,
                })
            })
            .collect()
    }

    /// Asks a job to stop. A queued job is cancelled at once; a running one stops at its next
    /// step boundary. `false` when the job had already finished.
    pub async fn request_cancel(&self, id: i64) -> Result<bool> {
        let now = clock::now_ms();
        let queued = sqlx::query("UPDATE jobs SET status = 'cancelled', cancel_requested = 1, finished_at = $1, updated_at = $1 WHERE id = $2 AND status = 'queued'")
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        if queued.rows_affected() > 0 {
            sqlx::query(
                "UPDATE job_items SET status = 'cancelled', updated_at = $1 WHERE job_id = $2 AND status = 'queued'",
            )
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await?;
            return Ok(true);
        }
        let running =
            sqlx::query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 AND status = 'running'")
                .bind(now)
                .bind(id)
                .execute(self.db.pool())
                .await?;
        Ok(running.rows_affected() > 0)
    }

    pub async fn cancel_requested(&self, id: i64) -> Result<bool> {
        let v: i64 = sqlx::query_scalar("SELECT cancel_requested FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(v != 0)
    }

    /// The kinds of job that exist, for filter choices.
    pub async fn kinds(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT kind FROM jobs ORDER BY kind").fetch_all(self.db.pool()).await?)
    }

    pub async fn list(&self, filter: &JobFilter, page: u32, per_page: u32) -> Result<(Vec<Job>, i64)> {
        let mut clauses = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut owner = None;
        if let Some(s) = filter.status {
            texts.push(s.as_str().to_owned());
            clauses.push(format!("status = ${}", texts.len()));
        }
        if let Some(k) = filter.kind.as_deref().filter(|k| !k.is_empty()) {
            texts.push(k.to_owned());
            clauses.push(format!("kind = ${}", texts.len()));
        }
        if let Some(o) = filter.owner.as_deref().filter(|o| !o.is_empty()) {
            texts.push(o.to_owned());
            clauses.push(format!("owner = ${}", texts.len()));
        }
        if let Some(o) = filter.owner_id {
            owner = Some(o);
            clauses.push(format!("owner_id = ${}", texts.len() + 1));
        }
        let filter_sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let count_sql = format!("SELECT COUNT(*) FROM jobs{filter_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for t in &texts {
            count = count.bind(t.clone());
        }
        if let Some(o) = owner {
            count = count.bind(o);
        }
        let total = count.fetch_one(self.db.pool()).await?;
        let limit = i64::from(per_page);
        let offset = i64::from(page.saturating_sub(1)) * limit;
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs{filter_sql} ORDER BY id DESC LIMIT {limit} OFFSET {offset}");
        let mut q = sqlx::query(&sql);
        for t in &texts {
            q = q.bind(t.clone());
        }
        if let Some(o) = owner {
            q = q.bind(o);
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        Ok((rows.iter().map(job_from_row).collect::<Result<_>>()?, total))
    }

    /// A new job for the failed (or cancelled) items of finished job `id`, linked to it.
    pub async fn retry_failed_items(&self, id: i64, owner_id: Option<i64>, owner: &str) -> Result<Job> {
        let job = self.get(id).await?.ok_or_else(|| Error::NotFound(format!("no job {id}")))?;
        if !job.status.is_finished() {
            return Err(Error::Conflict(format!("job {id} is still {}", job.status.as_str())));
        }
        let failed: Vec<String> = self
            .items(id)
            .await?
            .into_iter()
            .filter(|i| i.status == "failed" || i.status == "cancelled")
            .map(|i| i.name)
            .collect();
        if failed.is_empty() {
            return Err(Error::Conflict(format!("job {id} has no failed items to retry")));
        }
        self.enqueue(&NewJob {
            kind: job.kind,
            params: job.params,
            owner_id,
            owner: owner.to_owned(),
            items: failed,
            retry_of: Some(id),
        })
        .await
    }

    /// Deletes finished jobs (with their items and logs) that ended more than `max_age_ms` ago.
    pub async fn prune_finished(&self, max_age_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1")
            .bind(clock::now_ms() - max_age_ms)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Queue depth, running jobs, and jobs that failed since `since`.
    pub async fn counts(&self, since: i64) -> Result<(i64, i64, i64)> {
        let q = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
        let queued = q("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetch_one(self.db.pool()).await?;
        let running = q("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetch_one(self.db.pool()).await?;
        let failed = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('failed', 'partially_failed') AND finished_at >= $1",
        )
        .bind(since)
        .fetch_one(self.db.pool())
        .await?;
        Ok((queued, running, failed))
    }
}

fn job_from_row(row: &AnyRow) -> Result<Job> {
    let params: String = row.try_get("params")?;
    let result: Option<String> = row.try_get("result")?;
    let status: String = row.try_get("status")?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
        owner_id: row.try_get("owner_id")?,
        owner: row.try_get("owner")?,
        status: JobStatus::parse(&status).ok_or_else(|| Error::Internal(format!("unknown job status {status:?}")))?,
        progress: row.try_get("progress")?,
        step: row.try_get("step")?,
        steps_done: row.try_get("steps_done")?,
        result: result.and_then(|s| serde_json::from_str(&s).ok()),
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        retry_of: row.try_get("retry_of")?,
        lease_owner: row.try_get("lease_owner")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
