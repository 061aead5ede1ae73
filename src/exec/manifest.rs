//! `manifest.json`: what ran (the resolved pipeline, seed, versions), when, and what it wrote.
//! Written when the run starts (status `running`) and rewritten when it ends.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::plan::Plan;

/// The manifest's content.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// frontier's version.
    pub frontier_version: &'static str,
    /// Parquet column contract version.
    pub schema_version: &'static str,
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Pipeline file as given.
    pub pipeline_file: String,
    /// FNV-1a 64 hash of the pipeline file's text (hex).
    pub pipeline_hash: String,
    /// Git commit of the pipeline's repository, when it is in one.
    pub git_commit: Option<String>,
    /// The pipeline as resolved (after `--set`).
    pub resolved_pipeline: Value,
    /// Workload seed.
    pub seed: u64,
    /// The pacer that releases open-loop slots: `timer` or `thread` (see the README's "Timing
    /// that holds").
    pub pacer: &'static str,
    /// The HTTP client serving `http://` endpoints: `own` (frontier's HTTP/1.1 client) or
    /// `reqwest` (`FRONTIER_HTTP=reqwest`, or a proxy set in the environment).
    pub http_client: &'static str,
    /// `running`, `completed`, `interrupted` or `failed` (every request failed, or the run
    /// stopped on an error: see `error`).
    pub status: &'static str,
    /// Start (UTC).
    pub started_at: String,
    /// End (UTC).
    pub ended_at: Option<String>,
    /// What each dataset held for this run (see [`dataset_digests`]).
    pub datasets: Value,
    /// Trials: index, id, grid values.
    pub trials: Vec<Value>,
    /// LLM calls sent.
    pub requests: u64,
    /// LLM calls failed.
    pub failed_requests: u64,
    /// Files written (relative to the run folder) with row counts.
    pub files: Vec<Value>,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Manifest {
    /// The manifest of a run that is starting; `datasets` is [`dataset_digests`] of `plan`.
    pub fn running(plan: &Plan, run_id: &str, started: DateTime<Utc>, datasets: &Value) -> Self {
        let source = std::fs::read(&plan.file).unwrap_or_default();
        Manifest {
            frontier_version: env!("CARGO_PKG_VERSION"),
            schema_version: crate::store::SCHEMA_VERSION,
            run_id: run_id.to_string(),
            pipeline: plan.name.clone(),
            pipeline_file: plan.file.display().to_string(),
            pipeline_hash: format!("{:016x}", crate::rng::fnv1a64(&source)),
            git_commit: git_commit(&plan.file),
            resolved_pipeline: serde_json::to_value(&plan.spec).unwrap_or(Value::Null),
            seed: plan.seed,
            pacer: crate::exec::pacer::PacerKind::from_env().as_str(),
            http_client: crate::client::Transport::from_env().as_str(),
            status: "running",
            started_at: started.to_rfc3339(),
            ended_at: None,
            datasets: datasets.clone(),
            trials: plan
                .trials
                .iter()
                .map(|t| serde_json::json!({"index": t.index, "trial_id": t.id, "grid": t.grid}))
                .collect(),
            requests: 0,
            failed_requests: 0,
            files: Vec::new(),
            error: None,
        }
    }

    /// Record the end of the run.
    pub fn finish(
        &mut self,
        ended: DateTime<Utc>,
        interrupted: bool,
        requests: u64,
        failed: u64,
        files: &[(PathBuf, u64)],
        run_dir: &Path,
    ) {
        self.ended_at = Some(ended.to_rfc3339());
        self.status = if interrupted {
            "interrupted"
        } else if requests > 0 && failed == requests {
            "failed"
        } else {
            "completed"
        };
        self.requests = requests;
        self.failed_requests = failed;
        self.files = files
            .iter()
            .map(|(p, rows)| {
                let rel = p.strip_prefix(run_dir).unwrap_or(p);
                serde_json::json!({"path": rel.display().to_string(), "rows": rows})
            })
            .collect();
    }
}

/// Write `manifest.json` into `dir`.
pub fn write(dir: &Path, m: &Manifest) -> Result<(), Error> {
    let path = dir.join("manifest.json");
    let text =
        serde_json::to_string_pretty(m).map_err(|e| Error::Internal(format!("manifest: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}

/// The commit of the repository holding `file`, read from `.git` without running git.
fn git_commit(file: &Path) -> Option<String> {
    let mut dir = std::fs::canonicalize(file).ok()?.parent()?.to_path_buf();
    loop {
        let git = dir.join(".git");
        if git.is_dir() {
            let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
            let head = head.trim();
            return match head.strip_prefix("ref: ") {
                None => Some(head.to_string()),
                Some(r) => std::fs::read_to_string(git.join(r))
                    .ok()
                    .map(|s| s.trim().to_string())
                    .or_else(|| packed_ref(&git, r)),
            };
        }
        if !dir.pop() {
            return None;
        }
    }
}

fn packed_ref(git: &Path, name: &str) -> Option<String> {
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (hash, r) = l.split_once(' ')?;
        (r == name).then(|| hash.to_string())
    })
}

/// Per dataset, the rows a run used and a digest of them: `{name: {rows, digest}}`. The digest
/// (16 hex digits) is FNV-1a 64 over the rows in order, each row's `item` (every field, with
/// `id`, `input` and `references`) as JSON with sorted keys and its `output_tokens`; so two runs
/// with equal digests used the same cases, whether they came from a file, a trace or were
/// generated, and a dataset file edited between nightly runs shows as a changed digest.
/// Rows are hashed in parallel, then their hashes in order.
pub fn dataset_digests(plan: &Plan) -> Value {
    let out = plan
        .datasets
        .iter()
        .map(|(name, dataset)| {
            let digest = serde_json::json!({
                "rows": dataset.rows.len(),
                "digest": rows_digest(&dataset.rows),
            });
            (name.clone(), digest)
        })
        .collect();
    Value::Object(out)
}

/// The digest of [`dataset_digests`].
fn rows_digest(rows: &[crate::plan::dataset::Row]) -> String {
    use rayon::prelude::*;
    use std::io::Write;
    let row_hashes: Vec<u64> = rows
        .par_iter()
        .map(|row| {
            let mut h = crate::rng::Fnv1a64::new();
            // Writing into a hasher cannot fail; a Value always serialises.
            let _ = serde_json::to_writer(&mut h, &row.item);
            let _ = write!(h, "\u{1f}{:?}", row.output_tokens);
            h.0
        })
        .collect();
    let mut all = crate::rng::Fnv1a64::new();
    for r in &row_hashes {
        all.update(&r.to_le_bytes());
    }
    format!("{:016x}", all.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::dataset::Row;

    fn row(id: &str, input: &str, output_tokens: Option<u32>) -> Row {
        Row {
            id: id.into(),
            input: input.into(),
            references: vec![],
            item: serde_json::json!({"id": id, "input": input, "references": []}),
            output_tokens,
        }
    }

    #[test]
    fn the_digest_follows_every_row_and_their_order() {
        let rows = vec![row("0", "a", None), row("1", "b", None)];
        let d = rows_digest(&rows);
        assert_eq!(d.len(), 16);
        assert_eq!(d, rows_digest(&rows.clone()), "deterministic");
        let mut edited = rows.clone();
        edited[1] = row("1", "c", None);
        assert_ne!(d, rows_digest(&edited), "an edited row");
        let swapped = vec![rows[1].clone(), rows[0].clone()];
        assert_ne!(d, rows_digest(&swapped), "the order");
        assert_ne!(d, rows_digest(&rows[..1]), "a dropped row");
        let mut longer = rows.clone();
        longer[0].output_tokens = Some(16);
        assert_ne!(d, rows_digest(&longer), "a row's output length");
        // Map keys are sorted, so the digest does not depend on the order fields were read in.
        let mut reordered = rows.clone();
        reordered[0].item = serde_json::json!({"references": [], "input": "a", "id": "0"});
        assert_eq!(d, rows_digest(&reordered));
    }
}
