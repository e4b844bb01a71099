//! ccr-sim: simulated Elasticsearch clusters speaking the CCR REST API.
