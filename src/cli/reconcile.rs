//! `reconcile --once`: one reconcile run, printed as a table (or JSON); exit 1 when an item stays blocked.

use std::fmt::Write;
use std::process::ExitCode;

use super::table::columns;
use super::{block_on, init_logging, load, print_json, ConfigArg, OutputFormat};
use super::{EXIT_CONFIG, EXIT_PROBLEM};
use crate::reconcile::credentials::SecretSink;
use crate::reconcile::{ItemState, ReconcileReport};

/// Where the secrets of the cross-cluster API keys a run creates go: `--credentials-dir` or
/// `--show-credentials` (neither: no key is created).
#[derive(Debug, Default)]
pub(super) struct SecretsArg {
    pub dir: Option<std::path::PathBuf>,
    pub show: bool,
}

/// `ccr-sentinel reconcile --once [--dry-run] [--credentials-dir DIR | --show-credentials]`.
pub(super) fn command(
    config: &ConfigArg,
    once: bool,
    dry_run: bool,
    format: OutputFormat,
    secrets: SecretsArg,
) -> ExitCode {
    if !once {
        eprintln!(
            "error: use `reconcile --once`; the daemon (`run`) reconciles on `schedule.reconcile`"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if secrets.show && matches!(format, OutputFormat::Json) {
        eprintln!("error: `--show-credentials` prints the secrets after the table; it cannot be used with `--format json` (use `--credentials-dir`)");
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Some(d) = &secrets.dir {
        if !d.is_dir() {
            eprintln!(
                "error: `--credentials-dir` {} is not a directory",
                d.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = match (&secrets.dir, secrets.show) {
        (Some(d), _) => SecretSink::Dir(d.clone()),
        (None, true) => SecretSink::Collect(shown.clone()),
        (None, false) => SecretSink::None,
    };
    let cfg = match load(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(e) = &cfg.topology_error {
        // Reconcile over the declared configuration would undo the switchover the file records.
        eprintln!(
            "error: the DR topology file cannot be read ({e}); reconcile does not run without it (fix or remove the file, see docs/operations.md)"
        );
        return ExitCode::from(super::EXIT_CONFIG);
    }
    init_logging(cfg.log.format, cfg.log.level.as_deref(), "warn");
    block_on(async move {
        let r = match crate::reconcile::one_shot(cfg, dry_run) {
            Ok(r) => r.with_secret_sink(sink),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        let report = r.run_once().await;
        match format {
            OutputFormat::Json => {
                print_json(&*report);
            }
            OutputFormat::Table => print!("{}", render_table(&report)),
        }
        // The one place a secret is printed: asked for with --show-credentials, shown once.
        for c in crate::sync::lock(&shown).drain(..) {
            println!(
                "\ncross-cluster API key `{}` on `{}` for remote `{}` on `{}` (shown once; the value of cluster.remote.{}.credentials):\n{}",
                c.key_id,
                c.leader,
                c.alias,
                c.cluster,
                c.alias,
                secrecy::ExposeSecret::expose_secret(&c.credentials)
            );
        }
        if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_PROBLEM)
        }
    })
    .unwrap_or_else(|code| code)
}

/// The `reconcile --once` table: one line per item, reasons spelled out, then the summary.
pub fn render_table(r: &ReconcileReport) -> String {
    let mut rows = vec![vec![
        "CLUSTER".to_string(),
        "KIND".into(),
        "NAME".into(),
        "STATE".into(),
        "REASON".into(),
    ]];
    for i in &r.items {
        rows.push(vec![
            i.cluster.clone(),
            i.kind.as_str().into(),
            i.name.clone(),
            state_word(i.state).into(),
            i.reason
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut out = columns(&rows);
    for i in r
        .items
        .iter()
        .filter(|i| i.message.is_some() || !i.actions.is_empty())
    {
        let _ = writeln!(out, "\n{}/{} {}:", i.cluster, i.kind.as_str(), i.name);
        if let Some(m) = &i.message {
            let _ = writeln!(out, "  {m}");
        }
        for a in &i.actions {
            let verb = match i.state {
                ItemState::Planned => "would",
                ItemState::Blocked => "tried",
                _ => "did",
            };
            let _ = writeln!(out, "  {verb}: {a}");
        }
    }
    let _ = writeln!(out, "\n{}", r.summary());
    out
}

/// The STATE word: the JSON spelling of [`ItemState`].
fn state_word(s: ItemState) -> &'static str {
    match s {
        ItemState::InSync => "in_sync",
        ItemState::Changed => "changed",
        ItemState::Planned => "planned",
        ItemState::Blocked => "blocked",
    }
}

#[cfg(test)]
mod tests {
    use super::render_table;
    use crate::es::FailureReason;
    use crate::reconcile::plan::ItemKind;
    use crate::reconcile::{ItemReport, ItemState, ReconcileReport};

    fn item(kind: ItemKind, name: &str, state: ItemState) -> ItemReport {
        ItemReport {
            cluster: "follower".into(),
            kind,
            name: name.into(),
            state,
            reason: None,
            message: None,
            actions: Vec::new(),
            retry_after: None,
            failures: 0,
        }
    }

    #[test]
    fn one_line_per_item_then_the_details_then_the_summary() {
        let blocked = ItemReport {
            reason: Some(FailureReason::LeaderMissing),
            message: Some("leader index orders does not exist".into()),
            actions: vec!["put_follow".into()],
            ..item(ItemKind::Follower, "orders-copy", ItemState::Blocked)
        };
        let now = chrono::Utc::now();
        let report = ReconcileReport {
            started_at: now,
            finished_at: now,
            dry_run: false,
            items: vec![item(ItemKind::Remote, "leader", ItemState::InSync), blocked],
            events: Vec::new(),
        };
        let want = "\
CLUSTER   KIND      NAME         STATE    REASON
follower  remote    leader       in_sync  -
follower  follower  orders-copy  blocked  leader_missing

follower/follower orders-copy:
  leader index orders does not exist
  tried: put_follow

reconcile: 1 in sync, 1 blocked
";
        assert_eq!(render_table(&report), want);
    }
}
