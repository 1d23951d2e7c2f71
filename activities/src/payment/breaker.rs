//! The circuit breaker in front of the payment gateway (the `failsafe` crate's state machine).
//!
//! After `failures` outages in a row it opens: every charge and refund fails at once, so a
//! customer waiting on `pay` hears "try again shortly" immediately instead of after a timeout,
//! and an overloaded gateway gets room to recover. After `cooldown` the next call probes it
//! (half-open): success closes the breaker, another outage opens it again. Declines are healthy
//! answers and never count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use failsafe::backoff::{self, Constant};
use failsafe::failure_policy::{self, ConsecutiveFailures};
use failsafe::futures::CircuitBreaker as _;
use failsafe::{Config, StateMachine};
use serde::Serialize;

use driver_call_workflows::domain::Krw;

use super::gateway::{ChargeRequest, GatewayCharge, GatewayError, PaymentGateway};

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive outages (errors or timeouts) that open it (`PAYMENT_BREAKER_FAILURES`).
    pub failures: u32,
    /// How long it stays open before probing the gateway again (`PAYMENT_BREAKER_COOLDOWN`).
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// The breaker's state, as logs, `/status` and the `payment_gateway_circuit_state` metric show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through (0 in the metric).
    Closed = 0,
    /// Calls fail at once (1). It stays so until the first call after the cooldown.
    Open = 1,
    /// The next call probes the gateway (2).
    HalfOpen = 2,
}

impl CircuitState {
    /// The state's name, as its JSON says it.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => CircuitState::Open,
            2 => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        }
    }
}

/// Told of every change of the breaker's state (the worker turns it into a metric).
pub type StateListener = Arc<dyn Fn(CircuitState) + Send + Sync>;

/// Why a guarded gateway call did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardedError {
    /// The breaker is open: the gateway was not called at all.
    #[error("the payment gateway's circuit breaker is open; try again shortly")]
    CircuitOpen,
    /// The gateway was called and failed.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// A payment gateway behind a circuit breaker.
pub struct GuardedGateway {
    gateway: Arc<dyn PaymentGateway>,
    breaker: StateMachine<ConsecutiveFailures<Constant>, StateRecorder>,
    state: Arc<AtomicU8>,
}

impl GuardedGateway {
    /// Guards `gateway`; `listener` hears every state change.
    pub fn new(
        gateway: Arc<dyn PaymentGateway>,
        settings: BreakerSettings,
        listener: Option<StateListener>,
    ) -> Self {
        let state = Arc::new(AtomicU8::new(CircuitState::Closed as u8));
        let recorder = StateRecorder {
            gateway: gateway.name(),
            state: state.clone(),
            listener,
        };
        let policy = failure_policy::consecutive_failures(
            settings.failures.max(1),
            backoff::constant(settings.cooldown),
        );
        let breaker = Config::new()
            .failure_policy(policy)
            .instrument(recorder)
            .build();
        Self {
            gateway,
            breaker,
            state,
        }
    }

    /// The breaker's state right now.
    pub fn state(&self) -> CircuitState {
        CircuitState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// The guarded gateway's name.
    pub fn gateway_name(&self) -> &'static str {
        self.gateway.name()
    }

    /// Charges through the breaker.
    pub async fn charge(&self, request: &ChargeRequest) -> Result<GatewayCharge, GuardedError> {
        let call = self.gateway.charge(request);
        self.breaker
            .call_with(GatewayError::is_outage, call)
            .await
            .map_err(into_guarded)
    }

    /// Refunds `amount` (`None`: all) through the breaker.
    pub async fn refund(
        &self,
        idempotency_key: &str,
        amount: Option<Krw>,
    ) -> Result<Option<GatewayCharge>, GuardedError> {
        let call = self.gateway.refund(idempotency_key, amount);
        self.breaker
            .call_with(GatewayError::is_outage, call)
            .await
            .map_err(into_guarded)
    }
}

fn into_guarded(error: failsafe::Error<GatewayError>) -> GuardedError {
    match error {
        failsafe::Error::Rejected => GuardedError::CircuitOpen,
        failsafe::Error::Inner(error) => GuardedError::Gateway(error),
    }
}

/// Keeps the current state, logs each change and tells the listener.
struct StateRecorder {
    gateway: &'static str,
    state: Arc<AtomicU8>,
    listener: Option<StateListener>,
}

impl StateRecorder {
    fn set(&self, state: CircuitState) {
        self.state.store(state as u8, Ordering::Relaxed);
        match state {
            CircuitState::Open => tracing::warn!(
                gateway = self.gateway,
                circuit = "open",
                "payment gateway circuit breaker opened: payments fail fast"
            ),
            CircuitState::HalfOpen => tracing::info!(
                gateway = self.gateway,
                circuit = "half_open",
                "payment gateway circuit breaker half-open: probing the gateway"
            ),
            CircuitState::Closed => tracing::info!(
                gateway = self.gateway,
                circuit = "closed",
                "payment gateway circuit breaker closed: the gateway answers again"
            ),
        }
        if let Some(listener) = &self.listener {
            listener(state);
        }
    }
}

impl failsafe::Instrument for StateRecorder {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        self.set(CircuitState::Open);
    }

    fn on_half_open(&self) {
        self.set(CircuitState::HalfOpen);
    }

    fn on_closed(&self) {
        self.set(CircuitState::Closed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::payment::gateway::ChargeStatus;

    /// A gateway whose health the test flips.
    struct Flaky {
        down: std::sync::atomic::AtomicBool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl PaymentGateway for Flaky {
        async fn charge(&self, request: &ChargeRequest) -> Result<GatewayCharge, GatewayError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(GatewayError::Unavailable("down".into()));
            }
            if request.amount < 0 {
                return Err(GatewayError::Declined("negative".into()));
            }
            Ok(GatewayCharge {
                charge_id: "chg".into(),
                status: ChargeStatus::Charged,
                refunded_amount: None,
                request: request.clone(),
            })
        }

        async fn refund(
            &self,
            _key: &str,
            _amount: Option<Krw>,
        ) -> Result<Option<GatewayCharge>, GatewayError> {
            Ok(None)
        }

        fn name(&self) -> &'static str {
            "flaky"
        }
    }

    fn request(amount: i64) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: "payment:1".into(),
            call_id: "1".into(),
            mobile: "010".into(),
            pay_type: "CARD".into(),
            amount,
        }
    }

    #[tokio::test]
    async fn opens_after_the_threshold_fails_fast_and_closes_when_the_gateway_recovers() {
        let gateway = Arc::new(Flaky {
            down: true.into(),
            calls: AtomicUsize::new(0),
        });
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let listener: StateListener = {
            let seen = seen.clone();
            Arc::new(move |state| seen.lock().unwrap().push(state))
        };
        let settings = BreakerSettings {
            failures: 3,
            cooldown: Duration::from_millis(50),
        };
        let guarded = GuardedGateway::new(gateway.clone(), settings, Some(listener));

        for _ in 0..3 {
            let error = guarded.charge(&request(5000)).await.unwrap_err();
            assert!(matches!(error, GuardedError::Gateway(_)), "{error}");
        }
        assert_eq!(guarded.state(), CircuitState::Open);
        let error = guarded.charge(&request(5000)).await.unwrap_err();
        assert_eq!(error, GuardedError::CircuitOpen);
        assert_eq!(gateway.calls.load(Ordering::SeqCst), 3, "open: not called");

        gateway.down.store(false, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while guarded.charge(&request(5000)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "never closed");
            tokio::task::yield_now().await;
        }
        assert_eq!(guarded.state(), CircuitState::Closed);
        assert_eq!(
            *seen.lock().unwrap(),
            // failsafe reports the initial Closed when the breaker is built.
            [
                CircuitState::Closed,
                CircuitState::Open,
                CircuitState::HalfOpen,
                CircuitState::Closed
            ]
        );
    }

    #[tokio::test]
    async fn declines_never_open_it() {
        let gateway = Arc::new(Flaky {
            down: false.into(),
            calls: AtomicUsize::new(0),
        });
        let settings = BreakerSettings {
            failures: 2,
            cooldown: Duration::from_secs(60),
        };
        let guarded = GuardedGateway::new(gateway, settings, None);
        for _ in 0..5 {
            let error = guarded.charge(&request(-1)).await.unwrap_err();
            assert!(matches!(
                error,
                GuardedError::Gateway(GatewayError::Declined(_))
            ));
        }
        assert_eq!(guarded.state(), CircuitState::Closed);
    }
}
