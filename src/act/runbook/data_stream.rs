//! Promotion of a replicated data stream on its follower cluster: unfollow the older backing indices, promote the
//! stream, roll it over, unfollow the old write index ([`plan_data_stream`] has the order and why).
//!
//! Level-triggered like the unfollow runbook: before every step it reads the stream (`GET /_data_stream/<name>`),
//! its backing indices (`_cat/indices`, `_ccr/info`) and the templates (`GET /_index_template`), and does the
//! first step still missing. The backing-index steps are the unfollow runbook's own ([`super::unfollow`]), with
//! its per-index record (the leader each index had, for the leader-side lease clean-up). The stream has one
//! record of its own (`runbooks/data_streams/<cluster>__<stream>.json`), written before every step: the
//! stream-level steps done (a promotion on versions that do not report `replicated`) and every backing index
//! the runbook works on, so that [`RunbookStore::in_progress`] names them all from the first step and a running
//! daemon leaves them alone until the runbook ends.
//!
//! Every step goes through the shared [`Executor`], so it is audited, counted and honours dry run.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    inspect_many, promote_ready, sample, unfollow, CatchUpSample, Ctx, PromoteOptions,
    RunbookError, RunbookStore, StepReport, StoreError,
};
use crate::act::history::Rule;
use crate::act::{Action, ActionResult, Executor};
use crate::es::{EsClient, EsError};

pub use super::data_stream_plan::*;

/// The progress record of one data-stream promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataStreamRecord {
    pub cluster: String,
    pub data_stream: String,
    pub rule: Rule,
    pub started_at: DateTime<Utc>,
    /// Every backing index the runbook has seen as a follower of the stream: left alone by a running daemon
    /// until the runbook ends.
    #[serde(default)]
    pub backing_indices: Vec<String>,
    /// Steps done, in order.
    #[serde(default)]
    pub done: Vec<DsStep>,
    /// The step being attempted (written before it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<DsStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Why the runbook stopped before the end, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl DataStreamRecord {
    fn promoted(&self) -> bool {
        self.done.contains(&DsStep::Promote)
    }
}

/// One step of the data-stream runbook as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DsStepReport {
    pub step: DsStep,
    /// `success`, `already_done`, `failed`, `dry_run`.
    pub result: String,
    pub detail: String,
}

/// How a data-stream promotion ended.
#[derive(Debug, Clone, Serialize)]
pub struct DataStreamOutcome {
    pub cluster: String,
    pub data_stream: String,
    pub steps: Vec<DsStepReport>,
    /// The stream is a regular one and none of its backing indices is a follower (or, in dry run, would be).
    pub finished: bool,
    /// Refused before any step (nothing was changed).
    pub refused: bool,
    /// Leader-side clean-ups of backing indices whose unfollow could not remove the retention leases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lease_cleanup: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Hook called after every step; `ControlFlow::Break` stops the runbook there (the records stay, the next run
/// rolls forward).
pub type DsStepHook<'a> = &'a mut (dyn FnMut(&DsStepReport) -> ControlFlow<()> + Send);

/// Whether `name` is a data stream on the cluster of `c` (7.9+; older clusters have none). `Err` when the
/// cluster cannot tell.
pub async fn is_data_stream(c: &EsClient, name: &str) -> Result<bool, EsError> {
    let root = c.root_info().await?;
    if root.major_minor().is_some_and(|v| v < (7, 9)) {
        return Ok(false);
    }
    match c.data_stream(name).await {
        Ok(r) => Ok(r.data_streams.iter().any(|d| d.name == name)),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads what [`plan_data_stream`] needs. `Ok(None)`: no such data stream.
pub async fn look(
    c: &EsClient,
    data_stream: &str,
    promoted_before: bool,
) -> Result<Option<DataStreamView>, EsError> {
    let root = c.root_info().await?;
    let version = root.major_minor().unwrap_or((0, 0));
    let mut v = DataStreamView {
        version,
        data_stream: data_stream.to_string(),
        replicated: None,
        backing: Vec::new(),
        template: None,
        promoted_before,
    };
    if version < (7, 9) {
        // Refused by the plan (the version comes first), before any request the cluster would not know.
        return Ok(Some(v));
    }
    let ds = match c.data_stream(data_stream).await {
        Ok(r) => r.data_streams.into_iter().find(|d| d.name == data_stream),
        Err(e) if e.status() == Some(404) => None,
        Err(e) => return Err(e),
    };
    let Some(ds) = ds else {
        return Ok(None);
    };
    v.replicated = ds.replicated;
    let names: Vec<String> = ds.indices.iter().map(|i| i.index_name.clone()).collect();
    v.backing = names
        .iter()
        .cloned()
        .zip(inspect_many(c, &names).await?)
        .collect();
    let templates = c.index_templates().await?;
    v.template = templates
        .find_v2_template(data_stream)
        .map(|t| TemplateLook {
            name: t.name.clone(),
            data_stream: t.index_template.data_stream.is_some(),
        });
    Ok(Some(v))
}

/// The request of a stream-level step.
fn stream_action(step: &DsStep, cluster: &str, data_stream: &str) -> Option<Action> {
    let (cluster, data_stream) = (cluster.to_string(), data_stream.to_string());
    match step {
        DsStep::Promote => Some(Action::PromoteDataStream {
            cluster,
            data_stream,
        }),
        DsStep::Rollover => Some(Action::RolloverDataStream {
            cluster,
            data_stream,
        }),
        DsStep::Index { .. } => None,
    }
}

/// The request of a backing-index step (what dry run reports).
fn index_action(step: &DsStep, cluster: &str) -> Option<Action> {
    let DsStep::Index { index, step } = step else {
        return None;
    };
    super::step_action(*step, cluster, index)
}

/// The caught-up gate before the first step: every backing index that is an active follower caught up over
/// `stable_polls` looks (see [`promote_ready`]), waiting with `--wait` as plain promote does. `Err` with the
/// reason.
async fn caught_up_gate(
    exec: &Executor,
    cfg: &crate::config::Config,
    cluster: &str,
    followers: &[String],
    opts: &PromoteOptions,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let stable = opts.stable_polls.max(1) as usize;
    let mut samples: Vec<Vec<CatchUpSample>> = vec![Vec::new(); followers.len()];
    loop {
        if opts.stop.as_ref().is_some_and(|t| t.is_cancelled()) {
            return Err(
                "interrupted while checking whether it caught up; nothing was changed".into(),
            );
        }
        let mut why = None;
        let mut gathering = true;
        for (index, s) in followers.iter().zip(samples.iter_mut()) {
            let one = sample(exec, cfg, cluster, index)
                .await
                .map_err(|e| format!("cannot look at `{index}`: {e}"))?;
            s.push(one);
            if s.len() > stable {
                s.remove(0);
            }
            if let Err(w) = promote_ready(s, stable) {
                gathering &= s.len() < stable && promote_ready(s, s.len()).is_ok();
                why.get_or_insert(format!("`{index}`: {w}"));
            }
        }
        let Some(why) = why else {
            return Ok(());
        };
        if !opts.wait && !gathering {
            return Err(format!(
                "not caught up: {why} (use --wait to wait for it, or --force to promote anyway)"
            ));
        }
        if tokio::time::Instant::now() + opts.interval > deadline {
            return Err(format!(
                "not caught up after {}: {why}",
                humantime::format_duration(opts.timeout)
            ));
        }
        match &opts.stop {
            Some(stop) => tokio::select! {
                _ = tokio::time::sleep(opts.interval) => {}
                _ = stop.cancelled() => {
                    return Err("interrupted while checking whether it caught up; nothing was changed".into())
                }
            },
            None => tokio::time::sleep(opts.interval).await,
        }
    }
}

/// The most steps one run takes per backing index (the four unfollow steps, a clean-up, re-looks), plus the
/// stream's own.
const STEPS_PER_INDEX: usize = 6;

/// Promotes the replicated data stream `data_stream` on its follower cluster `cluster`: the caught-up gate
/// (unless `opts.force`, or a run already under way), then every step still missing until the stream is a
/// regular one, writable and able to roll over, with no backing index a follower. A refusal (no matching
/// data-stream template on `cluster`, a version before 7.9, not caught up) is an outcome with `refused` set and
/// nothing changed.
pub async fn promote_data_stream(
    ctx: Ctx<'_>,
    cluster: &str,
    data_stream: &str,
    opts: &PromoteOptions,
    hook: DsStepHook<'_>,
) -> Result<DataStreamOutcome, RunbookError> {
    promote_data_stream_as(ctx, cluster, data_stream, Rule::Manual, opts, hook).await
}

/// [`promote_data_stream`] on behalf of `rule` (what the audit events and the records name; a run resumed from
/// a record keeps the record's rule).
pub async fn promote_data_stream_as(
    ctx: Ctx<'_>,
    cluster: &str,
    data_stream: &str,
    rule: Rule,
    opts: &PromoteOptions,
    hook: DsStepHook<'_>,
) -> Result<DataStreamOutcome, RunbookError> {
    let Ctx { exec, cfg, store } = ctx;
    let client = exec
        .client(cluster)
        .ok_or_else(|| RunbookError::UnknownCluster(cluster.to_string()))?
        .clone();
    let mut out = DataStreamOutcome {
        cluster: cluster.to_string(),
        data_stream: data_stream.to_string(),
        steps: Vec::new(),
        finished: false,
        refused: false,
        lease_cleanup: Vec::new(),
        error: None,
    };
    let existing = store.load_data_stream(cluster, data_stream)?;
    let resuming = existing.is_some();
    let mut rec = existing.unwrap_or(DataStreamRecord {
        cluster: cluster.to_string(),
        data_stream: data_stream.to_string(),
        rule,
        started_at: Utc::now(),
        backing_indices: Vec::new(),
        done: Vec::new(),
        pending: None,
        owner_pid: None,
        updated_at: None,
        stopped: None,
    });
    rec.stopped = None;
    let rule = rec.rule;
    let why = if opts.force {
        "promote --force: data stream promotion without the caught-up checks".to_string()
    } else {
        "promote: data stream promotion".to_string()
    };
    let refuse = |mut out: DataStreamOutcome, why: String| {
        out.refused = true;
        out.error = Some(why);
        Ok(out)
    };

    let view = match look(&client, data_stream, rec.promoted()).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            store.remove_data_stream(cluster, data_stream)?;
            return refuse(
                out,
                format!("`{data_stream}` is not a data stream on `{cluster}`"),
            );
        }
        Err(e) => {
            out.error = Some(format!("cannot look at data stream `{data_stream}`: {e}"));
            return Ok(out);
        }
    };
    let plan = match plan_data_stream(&view) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                out,
                format!("data stream `{data_stream}` on `{cluster}`: {e}"),
            )
        }
    };
    let followers: Vec<String> = view
        .backing
        .iter()
        .filter(|(_, v)| v.follower.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    if plan.is_empty() {
        if let Err(e) = finish_index_records(ctx, &rec, &why, hook, &mut out).await {
            out.error = Some(e);
            return Ok(out);
        }
        store.remove_data_stream(cluster, data_stream)?;
        out.finished = true;
        return Ok(out);
    }
    if !opts.force && !resuming && !followers.is_empty() {
        if let Err(e) = caught_up_gate(exec, cfg, cluster, &followers, opts).await {
            return refuse(out, e);
        }
    }

    if exec.is_dry_run() {
        // Nothing changes in dry run: report every step planned from what is there.
        for s in plan {
            let Some(action) =
                stream_action(&s, cluster, data_stream).or_else(|| index_action(&s, cluster))
            else {
                continue;
            };
            let ev = exec.execute(&action, rule.as_str(), &why).await;
            let r = DsStepReport {
                step: s,
                result: ev.result.as_str().into(),
                detail: "not sent (dry run)".into(),
            };
            let _ = hook(&r);
            out.steps.push(r);
        }
        out.finished = true;
        return Ok(out);
    }

    let limit = view.backing.len() * STEPS_PER_INDEX + 4;
    let mut view = view;
    let mut plan = plan;
    for _ in 0..limit {
        let Some(step) = plan.first().cloned() else {
            break;
        };
        for f in view
            .backing
            .iter()
            .filter(|(_, v)| v.follower.is_some())
            .map(|(n, _)| n)
        {
            if !rec.backing_indices.contains(f) {
                rec.backing_indices.push(f.clone());
            }
        }
        rec.pending = Some(step.clone());
        store.save_data_stream(&rec)?;
        match &step {
            DsStep::Index { index, .. } => {
                // The unfollow runbook takes this index through all its remaining steps.
                let mut stop = false;
                let mut inner = |r: &StepReport| {
                    let report = DsStepReport {
                        step: DsStep::Index {
                            index: index.clone(),
                            step: r.step,
                        },
                        result: r.result.clone(),
                        detail: r.detail.clone(),
                    };
                    let flow = hook(&report);
                    stop |= flow.is_break();
                    flow
                };
                let o = unfollow(ctx, cluster, index, rule, &why, &mut inner).await?;
                for r in &o.steps {
                    let s = DsStep::Index {
                        index: index.clone(),
                        step: r.step,
                    };
                    if r.result != ActionResult::Failed.as_str() {
                        rec.done.push(s.clone());
                    }
                    out.steps.push(DsStepReport {
                        step: s,
                        result: r.result.clone(),
                        detail: r.detail.clone(),
                    });
                }
                if let Some(c) = o.lease_cleanup {
                    out.lease_cleanup.push(format!("`{index}`: {c}"));
                }
                rec.pending = None;
                if stop || !o.finished {
                    let e = o.error.unwrap_or_else(|| "stopped".into());
                    if stop {
                        rec.stopped = Some(e.clone());
                    }
                    store.save_data_stream(&rec)?;
                    out.error = Some(e);
                    return Ok(out);
                }
                store.save_data_stream(&rec)?;
            }
            DsStep::Promote | DsStep::Rollover => {
                let Some(action) = stream_action(&step, cluster, data_stream) else {
                    break;
                };
                let ev = exec.execute(&action, rule.as_str(), &why).await;
                let report = DsStepReport {
                    step: step.clone(),
                    result: ev.result.as_str().into(),
                    detail: match ev.result {
                        ActionResult::AlreadyDone => "already done by someone else".into(),
                        _ => ev.error.clone().unwrap_or_else(|| "done".into()),
                    },
                };
                rec.pending = None;
                out.steps.push(report.clone());
                if ev.result == ActionResult::Failed {
                    store.save_data_stream(&rec)?;
                    let _ = hook(&report);
                    out.error = Some(format!(
                        "step `{}` failed: {}",
                        step.name(),
                        ev.error.unwrap_or_default()
                    ));
                    return Ok(out);
                }
                rec.done.push(step.clone());
                store.save_data_stream(&rec)?;
                if hook(&report).is_break() {
                    let e = format!("stopped after step `{}`", step.name());
                    rec.stopped = Some(e.clone());
                    store.save_data_stream(&rec)?;
                    out.error = Some(e);
                    return Ok(out);
                }
            }
        }
        view = match look(&client, data_stream, rec.promoted()).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                out.error = Some(format!(
                    "data stream `{data_stream}` is gone from `{cluster}`"
                ));
                store.remove_data_stream(cluster, data_stream)?;
                return Ok(out);
            }
            Err(e) => {
                out.error = Some(format!(
                    "cannot look at data stream `{data_stream}` after {}: {e}",
                    step.describe()
                ));
                return Ok(out);
            }
        };
        plan = match plan_data_stream(&view) {
            Ok(p) => p,
            Err(e) => {
                out.error = Some(format!("data stream `{data_stream}` on `{cluster}`: {e}"));
                return Ok(out);
            }
        };
    }
    if !plan.is_empty() {
        out.error = Some(format!(
            "data stream `{data_stream}` did not become a regular stream after {limit} steps"
        ));
        return Ok(out);
    }
    if let Err(e) = finish_index_records(ctx, &rec, &why, hook, &mut out).await {
        out.error = Some(e);
        return Ok(out);
    }
    out.finished = true;
    store.remove_data_stream(cluster, data_stream)?;
    Ok(out)
}

/// Finishes the unfollow runbook of every backing index that still has a record although nothing is left to do
/// on it (stopped right after its last step): that run does the leader-side clean-up it may owe and removes
/// the record, so no finished index stays listed as in progress.
async fn finish_index_records(
    ctx: Ctx<'_>,
    rec: &DataStreamRecord,
    why: &str,
    hook: DsStepHook<'_>,
    out: &mut DataStreamOutcome,
) -> Result<(), String> {
    for index in &rec.backing_indices {
        if !matches!(ctx.store.load(&rec.cluster, index), Ok(Some(_))) {
            continue;
        }
        let mut inner = |r: &StepReport| {
            hook(&DsStepReport {
                step: DsStep::Index {
                    index: index.clone(),
                    step: r.step,
                },
                result: r.result.clone(),
                detail: r.detail.clone(),
            })
        };
        let o = unfollow(ctx, &rec.cluster, index, rec.rule, why, &mut inner)
            .await
            .map_err(|e| e.to_string())?;
        for r in o.steps {
            out.steps.push(DsStepReport {
                step: DsStep::Index {
                    index: index.clone(),
                    step: r.step,
                },
                result: r.result,
                detail: r.detail,
            });
        }
        if let Some(c) = o.lease_cleanup {
            out.lease_cleanup.push(format!("`{index}`: {c}"));
        }
        if !o.finished {
            return Err(o.error.unwrap_or_else(|| format!("`{index}` not finished")));
        }
    }
    Ok(())
}

impl RunbookStore {
    /// The record of a data-stream promotion in progress, if any.
    pub fn load_data_stream(
        &self,
        cluster: &str,
        data_stream: &str,
    ) -> Result<Option<DataStreamRecord>, StoreError> {
        self.data_streams.load(cluster, data_stream)
    }

    /// Writes a data-stream record (atomically), owned by this process.
    pub fn save_data_stream(&self, r: &DataStreamRecord) -> Result<(), StoreError> {
        let mut r = r.clone();
        r.owner_pid = Some(std::process::id());
        r.updated_at = Some(Utc::now());
        self.data_streams.save(&r.cluster, &r.data_stream, &r)
    }

    /// Removes a finished data-stream promotion's record.
    pub fn remove_data_stream(&self, cluster: &str, data_stream: &str) -> Result<(), StoreError> {
        self.data_streams.remove(cluster, data_stream)
    }

    /// Every data-stream promotion in progress (unreadable records are skipped).
    pub fn data_stream_records(&self) -> Vec<DataStreamRecord> {
        self.data_streams.all()
    }
}
