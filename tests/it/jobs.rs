//! Scheduling seen from outside: a job whose run never ends makes its later activations skipped and counted,
//! and `/health` turns 503 once the job is overdue, while `/metrics` keeps answering.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccr_sentinel::daemon::schedule::{JobOutcome, JobSpec};
use ccr_sentinel::daemon::Daemon;

use crate::common::{closed_port, sample, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_job_is_skipped_counted_and_fails_health() {
    let closed = closed_port();
    let cfg = ccr_sentinel::config::from_toml_str(&format!(
        r#"
[schedule]
poll = "* * * * * *"
doc_counts = "* * * * * *"
reconcile = "* * * * * *"
[clusters.follower]
url = "http://127.0.0.1:{closed}"
timeout = "1s"
[health]
job_overdue_periods = 3
"#
    ))
    .unwrap();
    let mut daemon = Daemon::new(cfg.clone()).unwrap();
    // A stand-in for a reconcile run that hangs (a cluster that never answers, a bug): it ends only at shutdown.
    daemon.add_job(JobSpec {
        name: "reconcile",
        schedule: cfg.schedule.reconcile.clone(),
        run: Arc::new(|cancel| {
            Box::pin(async move {
                cancel.cancelled().await;
                JobOutcome::Partial
            })
        }),
    });
    let d = Running::serve(daemon).await;
    let base = &d.base;

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (health, body) = loop {
        let r = client.get(format!("{base}/health")).send().await;
        if let Ok(r) = r {
            let code = r.status().as_u16();
            let body = r.text().await.unwrap();
            if code == 503 {
                break (code, body);
            }
        }
        assert!(
            Instant::now() < deadline,
            "/health never turned 503 for the stuck job"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(health, 503);
    assert!(
        body.contains("job reconcile has not finished a run"),
        "{body}"
    );
    assert!(
        !body.contains("job poll has not"),
        "poll runs on time: {body}"
    );

    let (status, text) = d.get("/metrics").await;
    assert_eq!(status, 200);
    let skipped = sample(
        &text,
        "ccr_sentinel_job_skipped_total{job_name=\"reconcile\"}",
    )
    .unwrap_or(0.0);
    assert!(
        skipped >= 1.0,
        "overlapping activations were not skipped:\n{text}"
    );
    assert!(
        text.contains("ccr_sentinel_job_skipped_total{job_name=\"poll\"} 0"),
        "{text}"
    );

    d.stop().await;
}
