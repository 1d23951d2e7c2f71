//! The payment context's worker: its settings and its wiring.

use std::sync::Arc;
use std::time::Duration;

use driver_call_runtime::humantime_duration;
use driver_call_stores::{PaymentStore, Store};
use driver_call_workflows::contracts::payment::TASK_QUEUE;
use driver_call_workflows::domain::Krw;
use temporalio_sdk::WorkerOptions;

use super::{
    Activities, BreakerSettings, BuiltinGateway, DEFAULT_MIN_PAY_AMOUNT, Fault, GuardedGateway,
    HttpGateway, PaymentGateway, StateListener,
};
use crate::{ContextWorker, WiringError};

/// The payment context's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentConfig {
    /// The minimum fare in KRW; smaller payments are rejected.
    #[arg(long, env = "MIN_PAY_AMOUNT", default_value_t = DEFAULT_MIN_PAY_AMOUNT)]
    pub min_pay_amount: i64,
    /// The payment gateway and its breaker.
    #[command(flatten)]
    pub gateway: GatewayConfig,
}

/// The payment gateway and the circuit breaker in front of it.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayConfig {
    /// Base URL of an external payment service (unset: the built-in gateway, the ledger itself).
    #[arg(long, env = "PAYMENT_GATEWAY_URL")]
    pub payment_gateway_url: Option<String>,
    /// How long one gateway request may take; longer is an outage of unknown outcome.
    #[arg(long, env = "PAYMENT_GATEWAY_TIMEOUT", default_value = "2s", value_parser = humantime_duration)]
    pub payment_gateway_timeout: Duration,
    /// Consecutive gateway outages that open the circuit breaker.
    #[arg(long, env = "PAYMENT_BREAKER_FAILURES", default_value_t = 5)]
    pub payment_breaker_failures: u32,
    /// How long the open breaker fails payments fast before probing the gateway again.
    #[arg(long, env = "PAYMENT_BREAKER_COOLDOWN", default_value = "30s", value_parser = humantime_duration)]
    pub payment_breaker_cooldown: Duration,
    /// A fault to inject, for failure drills only.
    #[arg(
        long,
        env = "PAYMENT_FAULT",
        value_enum,
        default_value = "none",
        hide = true
    )]
    pub payment_fault: PaymentFault,
}

impl GatewayConfig {
    /// The breaker's settings.
    pub fn breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failures: self.payment_breaker_failures,
            cooldown: self.payment_breaker_cooldown,
        }
    }

    /// The configured gateway behind its circuit breaker; `listener(gateway name)` gives what
    /// hears the breaker's every state change.
    pub fn gateway(
        &self,
        listener: impl FnOnce(&'static str) -> Option<StateListener>,
    ) -> Result<Arc<GuardedGateway>, WiringError> {
        let gateway: Arc<dyn PaymentGateway> = match &self.payment_gateway_url {
            Some(url) => Arc::new(HttpGateway::new(url, self.payment_gateway_timeout).map_err(
                |e| WiringError::Setting {
                    setting: "PAYMENT_GATEWAY_URL",
                    detail: e.to_string(),
                },
            )?),
            None => Arc::new(BuiltinGateway),
        };
        tracing::info!(gateway = gateway.name(), "payment gateway");
        let on_change = listener(gateway.name());
        Ok(Arc::new(GuardedGateway::new(
            gateway,
            self.breaker(),
            on_change,
        )))
    }
}

/// Faults a failure drill can inject into the payment worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentFault {
    /// None.
    None,
    /// Never complete `payment.approve` once the ledger is written.
    HangAfterLedgerWrite,
    /// Never complete a `payment.refund` that keeps a fee once the ledger is written.
    HangAfterPartialRefund,
}

impl From<PaymentFault> for Fault {
    fn from(fault: PaymentFault) -> Self {
        match fault {
            PaymentFault::None => Fault::None,
            PaymentFault::HangAfterLedgerWrite => Fault::HangAfterLedgerWrite,
            PaymentFault::HangAfterPartialRefund => Fault::HangAfterPartialRefund,
        }
    }
}

/// Wires the payment worker: it owns (and migrates) the payment database at `database_url` and
/// charges through the configured gateway; `circuit_listener(gateway name)` hears the breaker's
/// state changes.
pub async fn payment_worker(
    config: &PaymentConfig,
    database_url: &str,
    circuit_listener: impl FnOnce(&'static str) -> Option<StateListener>,
    graceful_shutdown: Duration,
) -> Result<ContextWorker, WiringError> {
    let store = PaymentStore::connect(database_url)
        .await
        .map_err(|source| WiringError::Store {
            context: "payment",
            source,
        })?;
    let gateway = config.gateway.gateway(circuit_listener)?;
    let minimum = Krw::new(config.min_pay_amount).map_err(|e| WiringError::Setting {
        setting: "MIN_PAY_AMOUNT",
        detail: e.to_string(),
    })?;
    let activities = Activities::new(store.clone(), gateway.clone(), minimum)
        .with_fault(config.gateway.payment_fault.into());
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_activities(activities)
        .graceful_shutdown_period(graceful_shutdown)
        .build();
    let reporter = report_circuit(store.clone(), gateway.clone());
    Ok(ContextWorker {
        store: Some(Store::Payment(store)),
        gateway: Some(gateway),
        background: Some(Box::pin(reporter)),
        ..ContextWorker::new(options)
    })
}

/// The worker as Temporal names it by default (`pid@host`), so the console can match a breaker
/// to the worker polling the payment queue.
fn worker_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}@{host}", std::process::id())
}

/// How often a payment worker writes its breaker's state into the payment database.
pub const CIRCUIT_REPORT_EVERY: Duration = Duration::from_secs(5);

/// Writes the breaker's state into the payment database every [`CIRCUIT_REPORT_EVERY`], so the
/// operations console (through the API, which reads that database) shows every worker's breaker
/// without knowing where the workers run. A failed write is retried at the next tick.
async fn report_circuit(store: PaymentStore, gateway: Arc<GuardedGateway>) {
    let worker = worker_identity();
    let mut ticks = tokio::time::interval(CIRCUIT_REPORT_EVERY);
    loop {
        ticks.tick().await;
        let circuit = gateway.state().as_str();
        if let Err(error) = store
            .report_circuit(&worker, gateway.gateway_name(), circuit)
            .await
        {
            tracing::warn!(%error, "could not report the payment circuit");
        }
    }
}
