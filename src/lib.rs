//! ccr-sentinel: keeps Elasticsearch cross-cluster replication healthy.
