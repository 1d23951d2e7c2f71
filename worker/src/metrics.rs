//! Prometheus metrics of a worker process: the Temporal SDK's own worker metrics (task slots,
//! poll and schedule latencies, ...) and the payment gateway's circuit breaker, all on
//! `WORKER_METRICS_ADDR` through the SDK's exporter.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use driver_call_activities::payment::{CircuitState, StateListener};
use temporalio_common::telemetry::metrics::{CoreMeter, MetricParameters, NewAttributes};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
};
use temporalio_sdk::Runtime;
use temporalio_sdk::runtime::RuntimeOptions;

/// The metrics exporter of this process.
pub struct Metrics {
    meter: Arc<dyn CoreMeter>,
    /// Where `/metrics` is served.
    pub address: SocketAddr,
}

impl Metrics {
    /// Starts serving `/metrics` on `address` (port 0 picks a free one).
    pub fn start(address: SocketAddr) -> anyhow::Result<Self> {
        let options = PrometheusExporterOptions::builder()
            .socket_addr(address)
            .build();
        let started = start_prometheus_metric_exporter(options)
            .with_context(|| format!("Failed to serve metrics on {address}"))?;
        tracing::info!(address = %started.bound_addr, "metrics on /metrics");
        Ok(Self {
            meter: started.meter,
            address: started.bound_addr,
        })
    }

    /// A Temporal worker runtime that reports into these metrics.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        let telemetry = TelemetryOptions::builder()
            .metrics(self.meter.clone())
            .build();
        let options = RuntimeOptions::builder()
            .telemetry_options(telemetry)
            .build()
            .map_err(|e| anyhow::anyhow!("Invalid runtime options: {e}"))?;
        Runtime::from_current_tokio(options).context("Failed to create the Temporal worker runtime")
    }

    /// A listener that keeps `payment_gateway_circuit_state` (0 closed, 1 open, 2 half-open)
    /// up to date.
    pub fn circuit_state_gauge(&self, gateway: &'static str) -> StateListener {
        let gauge = self.meter.gauge(
            MetricParameters::builder()
                .name("payment_gateway_circuit_state")
                .description("Payment gateway circuit breaker: 0 closed, 1 open, 2 half-open")
                .build(),
        );
        let attributes = self.meter.new_attributes(NewAttributes::from([
            temporalio_common::telemetry::metrics::MetricKeyValue::new("gateway", gateway),
        ]));
        gauge.record(CircuitState::Closed as u64, &attributes);
        Arc::new(move |state: CircuitState| gauge.record(state as u64, &attributes))
    }
}
