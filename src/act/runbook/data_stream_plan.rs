//! The pure half of the data-stream promotion runbook: what is still missing, in the order Elasticsearch allows
//! ([`plan_data_stream`]).
//!
//! ES refuses to close a data stream's write index (`MetadataIndexStateService.closeIndices`), so a follower
//! write index cannot be unfollowed in place, and refuses to roll over a replicated stream
//! (`DataStream.ensureNotReplicated`). The order is therefore the one of ES's own
//! `AutoFollowIT.testRolloverDataStreamInFollowClusterForbidden`: unfollow (pause, close, unfollow, open) every
//! older backing index that is a follower, promote the stream (`POST /_data_stream/_promote/<name>`), roll it
//! over so writes go to a new regular write index (until then they reach the follower write index, which
//! refuses them: `FollowingEngine`, 403), then unfollow the old write index, no longer the write index.

use serde::{Deserialize, Serialize};

use super::plan::{plan_steps, IndexView, Step};

/// One step of the data-stream promotion runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DsStep {
    /// A step of the unfollow runbook on one backing index.
    Index { index: String, step: Step },
    /// `POST /_data_stream/_promote/<name>`.
    Promote,
    /// `POST /<name>/_rollover`.
    Rollover,
}

impl DsStep {
    /// The step as printed: `promote`, `rollover`, or `close .ds-logs-app-2026.12.02-000001`.
    pub fn describe(&self) -> String {
        match self {
            DsStep::Index { index, step } => format!("{} {index}", step.as_str()),
            DsStep::Promote => "promote".into(),
            DsStep::Rollover => "rollover".into(),
        }
    }

    /// The step's name (`pause`, `close`, `unfollow`, `open`, `forget_follower`, `promote`, `rollover`).
    pub fn name(&self) -> &'static str {
        match self {
            DsStep::Index { step, .. } => step.as_str(),
            DsStep::Promote => "promote",
            DsStep::Rollover => "rollover",
        }
    }
}

/// The template a stream's next backing index would come from on the follower cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLook {
    pub name: String,
    /// It has `data_stream: {..}` (`MetadataCreateDataStreamService.lookupTemplateForDataStream` requires it).
    pub data_stream: bool,
}

/// What the runbook looks at before every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStreamView {
    /// The follower cluster's `(major, minor)`.
    pub version: (u32, u32),
    pub data_stream: String,
    /// `replicated` as the cluster reports it (7.11+; `None` before).
    pub replicated: Option<bool>,
    /// The backing indices, oldest generation first (the last is the write index), each as the unfollow runbook
    /// sees it.
    pub backing: Vec<(String, IndexView)>,
    /// The winning template for the stream's name (`findV2Template`), if any.
    pub template: Option<TemplateLook>,
    /// This runbook already promoted the stream (for versions that do not report `replicated`).
    pub promoted_before: bool,
}

/// Why the runbook cannot go on, named so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsRefusal {
    #[error("data streams and their promotion need Elasticsearch 7.9 or later; the cluster runs {0}.{1}")]
    TooOld(u32, u32),
    #[error(
        "no index template on the follower cluster matches data stream `{0}`: a promoted stream cannot roll over \
         and its lifecycle stalls without one; create one first (PUT /_index_template/<name> with index_patterns \
         matching `{0}` and \"data_stream\": {{}})"
    )]
    NoTemplate(String),
    #[error(
        "index template `{template}` matches data stream `{data_stream}` on the follower cluster but has no \
         data_stream section: a promoted stream cannot roll over with it; add \"data_stream\": {{}} to it, or a \
         data-stream template of higher priority"
    )]
    NotADataStreamTemplate {
        template: String,
        data_stream: String,
    },
    #[error("data stream `{0}` has no backing index")]
    NoBackingIndex(String),
    #[error("backing index `{index}`: {why}")]
    Index { index: String, why: String },
}

/// The steps still needed to turn the stream into a regular one whose backing indices are regular open indices,
/// in order; empty when done. The template and version checks refuse while a promotion or rollover is still to
/// come (after the rollover nothing left needs the template).
pub fn plan_data_stream(v: &DataStreamView) -> Result<Vec<DsStep>, DsRefusal> {
    if v.version < (7, 9) {
        return Err(DsRefusal::TooOld(v.version.0, v.version.1));
    }
    let Some(((write, write_view), older)) = v.backing.split_last() else {
        return Err(DsRefusal::NoBackingIndex(v.data_stream.clone()));
    };
    let index_steps = |index: &str, view: &IndexView| -> Result<Vec<DsStep>, DsRefusal> {
        plan_steps(view)
            .map(|steps| {
                steps
                    .into_iter()
                    .map(|step| DsStep::Index {
                        index: index.to_string(),
                        step,
                    })
                    .collect()
            })
            .map_err(|why| DsRefusal::Index {
                index: index.to_string(),
                why,
            })
    };
    let mut out = Vec::new();
    for (index, view) in older {
        out.extend(index_steps(index, view)?);
    }
    let promoted = match v.replicated {
        Some(r) => !r,
        None => v.promoted_before,
    };
    if !promoted {
        out.push(DsStep::Promote);
    }
    if write_view.follower.is_some() {
        // The write index cannot be closed: a rollover first makes it an older generation.
        out.push(DsStep::Rollover);
    }
    out.extend(index_steps(write, write_view)?);
    let rolls = out
        .iter()
        .any(|s| matches!(s, DsStep::Promote | DsStep::Rollover));
    if rolls {
        match &v.template {
            None => return Err(DsRefusal::NoTemplate(v.data_stream.clone())),
            Some(t) if !t.data_stream => {
                return Err(DsRefusal::NotADataStreamTemplate {
                    template: t.name.clone(),
                    data_stream: v.data_stream.clone(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::runbook::FollowerView;
    use crate::es::FollowerStatus;

    const G1: &str = ".ds-logs-app-2026.12.02-000001";
    const G2: &str = ".ds-logs-app-2026.12.02-000002";
    const G3: &str = ".ds-logs-app-2026.12.02-000003";
    const G4: &str = ".ds-logs-app-2026.12.02-000004";

    fn follower(status: FollowerStatus, open: bool) -> IndexView {
        IndexView {
            exists: true,
            open,
            follower: Some(FollowerView {
                status,
                remote_cluster: "leader".into(),
                leader_index: "x".into(),
            }),
        }
    }

    fn regular(open: bool) -> IndexView {
        IndexView {
            exists: true,
            open,
            follower: None,
        }
    }

    fn view(replicated: Option<bool>, backing: Vec<(&str, IndexView)>) -> DataStreamView {
        DataStreamView {
            version: (8, 15),
            data_stream: "logs-app".into(),
            replicated,
            backing: backing
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            template: Some(TemplateLook {
                name: "logs".into(),
                data_stream: true,
            }),
            promoted_before: false,
        }
    }

    fn ix(index: &str, step: Step) -> DsStep {
        DsStep::Index {
            index: index.into(),
            step,
        }
    }

    #[test]
    fn plan_rolls_forward_from_every_starting_point() {
        use FollowerStatus::*;
        use Step::*;
        let active = || follower(Active, true);
        let all_older = vec![
            ix(G1, Pause),
            ix(G1, Close),
            ix(G1, Unfollow),
            ix(G1, Open),
            ix(G2, Pause),
            ix(G2, Close),
            ix(G2, Unfollow),
            ix(G2, Open),
        ];
        let tail = vec![
            DsStep::Promote,
            DsStep::Rollover,
            ix(G3, Pause),
            ix(G3, Close),
            ix(G3, Unfollow),
            ix(G3, Open),
        ];
        let cases: Vec<(&str, DataStreamView, Vec<DsStep>)> = vec![
            (
                "nothing done",
                view(
                    Some(true),
                    vec![(G1, active()), (G2, active()), (G3, active())],
                ),
                [all_older.clone(), tail.clone()].concat(),
            ),
            (
                "first older index paused and closed",
                view(
                    Some(true),
                    vec![
                        (G1, follower(Paused, false)),
                        (G2, active()),
                        (G3, active()),
                    ],
                ),
                [
                    vec![ix(G1, Unfollow), ix(G1, Open)],
                    all_older[4..].to_vec(),
                    tail.clone(),
                ]
                .concat(),
            ),
            (
                "older indices unfollowed",
                view(
                    Some(true),
                    vec![(G1, regular(true)), (G2, regular(true)), (G3, active())],
                ),
                tail.clone(),
            ),
            (
                "promoted",
                view(
                    Some(false),
                    vec![(G1, regular(true)), (G2, regular(true)), (G3, active())],
                ),
                tail[1..].to_vec(),
            ),
            (
                "rolled over: the old write index is an older generation now",
                view(
                    Some(false),
                    vec![
                        (G1, regular(true)),
                        (G2, regular(true)),
                        (G3, active()),
                        (G4, regular(true)),
                    ],
                ),
                tail[2..].to_vec(),
            ),
            (
                "old write index closed and unfollowed, not yet open",
                view(
                    Some(false),
                    vec![
                        (G1, regular(true)),
                        (G2, regular(true)),
                        (G3, regular(false)),
                        (G4, regular(true)),
                    ],
                ),
                vec![ix(G3, Open)],
            ),
            (
                "done",
                view(
                    Some(false),
                    vec![
                        (G1, regular(true)),
                        (G3, regular(true)),
                        (G4, regular(true)),
                    ],
                ),
                vec![],
            ),
            (
                "a version that does not report replicated: promoted by this runbook before",
                DataStreamView {
                    promoted_before: true,
                    ..view(None, vec![(G1, regular(true)), (G2, active())])
                },
                vec![
                    DsStep::Rollover,
                    ix(G2, Pause),
                    ix(G2, Close),
                    ix(G2, Unfollow),
                    ix(G2, Open),
                ],
            ),
            (
                "a version that does not report replicated: not promoted yet",
                view(None, vec![(G1, active())]),
                vec![
                    DsStep::Promote,
                    DsStep::Rollover,
                    ix(G1, Pause),
                    ix(G1, Close),
                    ix(G1, Unfollow),
                    ix(G1, Open),
                ],
            ),
            (
                "a regular stream whose older index is still a follower (promoted by hand)",
                view(
                    Some(false),
                    vec![(G1, follower(Paused, true)), (G2, regular(true))],
                ),
                vec![ix(G1, Close), ix(G1, Unfollow), ix(G1, Open)],
            ),
        ];
        for (name, v, want) in cases {
            assert_eq!(plan_data_stream(&v), Ok(want), "{name}");
        }
    }

    #[test]
    fn plan_refuses_naming_what_is_missing() {
        let base = view(
            Some(true),
            vec![(G1, follower(FollowerStatus::Active, true))],
        );
        let no_template = DataStreamView {
            template: None,
            ..base.clone()
        };
        let e = plan_data_stream(&no_template).unwrap_err();
        assert_eq!(e, DsRefusal::NoTemplate("logs-app".into()));
        assert!(e.to_string().contains("PUT /_index_template"), "{e}");
        let not_ds = DataStreamView {
            template: Some(TemplateLook {
                name: "plain".into(),
                data_stream: false,
            }),
            ..base.clone()
        };
        let e = plan_data_stream(&not_ds).unwrap_err();
        assert!(e.to_string().contains("`plain`"), "{e}");
        assert!(e.to_string().contains("no data_stream section"), "{e}");
        let old = DataStreamView {
            version: (7, 8),
            ..base.clone()
        };
        let e = plan_data_stream(&old).unwrap_err();
        assert_eq!(e, DsRefusal::TooOld(7, 8));
        assert!(e.to_string().contains("7.9"), "{e}");
        let empty = view(Some(true), vec![]);
        assert_eq!(
            plan_data_stream(&empty),
            Err(DsRefusal::NoBackingIndex("logs-app".into()))
        );
        let missing = view(
            Some(true),
            vec![
                (
                    G1,
                    IndexView {
                        exists: false,
                        open: false,
                        follower: None,
                    },
                ),
                (G2, follower(FollowerStatus::Active, true)),
            ],
        );
        assert!(matches!(
            plan_data_stream(&missing),
            Err(DsRefusal::Index { index, .. }) if index == G1
        ));
        // Once rolled over, nothing left needs the template: the rest finishes without it.
        let after_rollover = DataStreamView {
            template: None,
            ..view(
                Some(false),
                vec![
                    (G1, follower(FollowerStatus::Paused, false)),
                    (G2, regular(true)),
                ],
            )
        };
        assert_eq!(
            plan_data_stream(&after_rollover),
            Ok(vec![ix(G1, Step::Unfollow), ix(G1, Step::Open)])
        );
    }
}
