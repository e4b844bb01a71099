//! `check`: the preflight checks, printed as a table (or JSON); exit 1 when something blocks.

use std::fmt::Write;
use std::process::ExitCode;

use super::table::columns;
use super::{block_on, init_logging, load, print_json, ConfigArg, OutputFormat, EXIT_PROBLEM};
use crate::preflight::PreflightReport;

/// `ccr-sentinel check`.
pub(super) fn command(config: &ConfigArg, format: OutputFormat) -> ExitCode {
    let cfg = match load(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(cfg.log.format, None, "error");
    block_on(async move {
        let clients = match crate::es::Clients::from_config(&cfg) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        let report = crate::preflight::run(&cfg, &clients).await;
        match format {
            OutputFormat::Json => {
                print_json(&report);
            }
            OutputFormat::Table => print!("{}", render_table(&report)),
        }
        if report.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_PROBLEM)
        }
    })
    .unwrap_or_else(|code| code)
}

/// The `check` table: CHECK, TARGET, RESULT, DETAIL and HOW TO FIX (on a line of its own), then the verdict.
pub fn render_table(r: &PreflightReport) -> String {
    let mut rows = vec![[
        "CHECK".to_string(),
        "TARGET".into(),
        "RESULT".into(),
        "DETAIL / HOW TO FIX".into(),
    ]];
    for c in &r.checks {
        rows.push([
            c.check.to_string(),
            c.target.clone(),
            c.status.as_str().to_string(),
            c.message.clone(),
        ]);
        if let Some(fix) = &c.fix {
            rows.push([
                String::new(),
                String::new(),
                String::new(),
                format!("fix: {fix}"),
            ]);
        }
    }
    let mut out = columns(&rows);
    let _ = writeln!(
        out,
        "\n{}: {} problem(s), {} warning(s)",
        if r.ok { "ok" } else { "BLOCKED" },
        r.problems,
        r.warnings
    );
    out
}

#[cfg(test)]
mod tests {
    use super::render_table;
    use crate::preflight::{Check, CheckResult, CheckStatus, PreflightReport};

    #[test]
    fn the_fix_goes_on_its_own_line_under_the_detail() {
        let report = PreflightReport::new(vec![
            CheckResult {
                check: Check::License,
                target: "cluster follower".into(),
                status: CheckStatus::Fail,
                message: "basic license".into(),
                fix: Some("start a trial".into()),
            },
            CheckResult {
                check: Check::Reachable,
                target: "cluster leader".into(),
                status: CheckStatus::Ok,
                message: String::new(),
                fix: None,
            },
        ]);
        let want = "\
CHECK      TARGET            RESULT  DETAIL / HOW TO FIX
license    cluster follower  FAIL    basic license
                                     fix: start a trial
reachable  cluster leader    ok      \n
BLOCKED: 1 problem(s), 0 warning(s)
";
        assert_eq!(render_table(&report), want);
    }
}
